// Shared helpers for the browser scenarios: launch Chromium, screenshots, layout checks, the
// result protocol. A scenario exports `default async function (ctx, kit)` and returns a JSON
// value; run.mjs prints it as the line `RESULT <json>` for the Rust test to assert on.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.POSADA_CHROMIUM || "/usr/bin/chromium";

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}

/// A phone-sized page (390 px wide) unless told otherwise.
export async function newPage(browser, { width = 390, javaScript = true } = {}) {
  const context = await browser.newContext({
    viewport: { width, height: 844 },
    javaScriptEnabled: javaScript,
    locale: "es-AR",
    timezoneId: "America/Argentina/Buenos_Aires",
  });
  // Mercado Pago's checkout is outside the sandbox: the fake Mercado Pago (crates/testkit) makes
  // preferences whose init_point is www.mercadopago.com.ar; the browser gets a stand-in page.
  await context.route(/^https:\/\/(www|sandbox)\.mercadopago\.com\.ar\//, (route) =>
    route.fulfill({
      status: 200,
      contentType: "text/html; charset=utf-8",
      body: "<!doctype html><title>Mercado Pago (prueba)</title><h1>Checkout de prueba</h1>",
    }),
  );
  // Photos live on other hosts (img.example): answer with a tiny image, never the network.
  await context.route(/^https:\/\/img\.example\//, (route) =>
    route.fulfill({
      status: 200,
      contentType: "image/svg+xml",
      body: '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400"><rect width="640" height="400" fill="#8aa"/></svg>',
    }),
  );
  return context.newPage();
}

/// Whether the page scrolls sideways (it must not at 390 px).
export async function horizontalOverflow(page) {
  return page.evaluate(() => {
    const d = document.documentElement;
    return Math.max(d.scrollWidth, document.body ? document.body.scrollWidth : 0) - d.clientWidth;
  });
}

/// The elements wider than the viewport (tag, class, width), outermost first.
export async function wideElements(page) {
  return page.evaluate(() => {
    const limit = document.documentElement.clientWidth;
    const out = [];
    for (const el of document.querySelectorAll("body *")) {
      const r = el.getBoundingClientRect();
      if (r.right > limit + 0.5 && out.length < 8) {
        out.push(`${el.tagName.toLowerCase()}.${el.className || ""} right=${Math.round(r.right)} width=${Math.round(r.width)}`);
      }
    }
    return out;
  });
}

/// Screenshots of the current URL at 390 px and 1280 px in $POSADA_SCREENSHOTS, and the
/// horizontal overflow at 390 px (0 when none).
export async function shoot(page, name) {
  const dir = process.env.POSADA_SCREENSHOTS;
  const out = {};
  const original = page.viewportSize();
  for (const width of [390, 1280]) {
    await page.setViewportSize({ width, height: 844 });
    if (width === 390) {
      const px = await horizontalOverflow(page);
      // 0 when the page fits; otherwise what sticks out, to see why.
      out.overflow390 = px === 0 ? 0 : { px, offenders: await wideElements(page) };
    }
    if (dir) {
      mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: join(dir, `${name}-${width}.png`), fullPage: true });
    }
  }
  await page.setViewportSize(original);
  return out;
}

/// The text of the first element matching `selector` (as written, whitespace collapsed), or null.
export async function text(page, selector) {
  const el = await page.$(selector);
  return el ? (await el.textContent()).replace(/\s+/g, " ").trim() : null;
}

/// Log in to the owner's web app at `base` with `password` on `page`; returns the page after the
/// login (the Hoy page).
export async function ownerLogin(page, base, password) {
  await page.goto(`${base}/dashboard/login`);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(`${base}/dashboard`), page.click("button[type=submit]")]);
  return page;
}

/// Every interactive element of the page is at least 44 px tall (tap targets), and every
/// visible form field has a label (not a placeholder). Returns the offenders (empty when none).
export async function accessibilityProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    const visible = (el) => {
      const r = el.getBoundingClientRect();
      const s = getComputedStyle(el);
      return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none";
    };
    for (const el of document.querySelectorAll("main a[href], main button, main input:not([type=hidden]), main select, main textarea, nav a")) {
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      const inline = el.tagName === "A" && el.closest("p, li, td") && !el.classList.contains("button");
      if (!inline && r.height < 43.5 && el.type !== "checkbox" && el.type !== "radio") {
        problems.push(`tap target ${Math.round(r.height)} px: ${el.outerHTML.slice(0, 120)}`);
      }
    }
    for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
      if (!visible(el)) continue;
      const labelled = (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest("label") || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
      if (!labelled) problems.push(`no label: ${el.outerHTML.slice(0, 120)}`);
    }
    if (!document.querySelector("main")) problems.push("no <main> landmark");
    return problems;
  });
}

/// Screenshots of the owner page open in `page` (see `shoot`), plus its accessibility problems.
export async function shootOwner(page, name) {
  const out = await shoot(page, name);
  out.a11y = await accessibilityProblems(page);
  return out;
}
