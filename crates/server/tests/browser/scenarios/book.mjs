// Book a unit through the pages with JavaScript off (plain forms): the list, the unit, arrival and
// departure picked on the calendar, the quote, the guest form, and on to the checkout.
async function clickDay(page, fragment) {
  for (let i = 0; i < 3; i++) {
    const link = await page.$(`#calendario a[href*="${fragment}"]`);
    if (link) {
      await Promise.all([page.waitForLoadState("load"), link.click()]);
      return;
    }
    await Promise.all([page.waitForLoadState("load"), page.click('a[aria-label="Mes siguiente"]')]);
  }
  throw new Error(`no calendar day links to ${fragment}`);
}

export default async function (ctx, kit) {
  const page = await kit.newPage(kit.browser, { javaScript: ctx.javascript !== false });
  const visited = [];
  page.on("framenavigated", (f) => {
    if (f === page.mainFrame()) visited.push(f.url());
  });
  const layout = {};
  await page.goto(`${ctx.base}/reservar`);
  layout.list = await kit.shoot(page, `${ctx.shot}-list`);
  await Promise.all([page.waitForLoadState("load"), page.click(`a[href="/reservar/${ctx.slug}"]`)]);
  const og = await page.getAttribute('meta[property="og:title"]', "content");
  const ogImage = await page.getAttribute('meta[property="og:image"]', "content");
  layout.unit = await kit.shoot(page, `${ctx.shot}-unit`);
  await clickDay(page, `check_in=${ctx.check_in}&guests`);
  await clickDay(page, `check_out=${ctx.check_out}`);
  const total = await kit.text(page, "table.nights tfoot tr:first-child td");
  const nights = (await page.$$("table.nights tbody tr")).length;
  layout.quote = await kit.shoot(page, `${ctx.shot}-quote`);
  await page.fill("#name", ctx.name);
  await page.fill("#email", ctx.email);
  await page.fill("#phone", ctx.phone);
  await Promise.all([
    page.waitForURL(ctx.expect_checkout ? /mercadopago\.com\.ar/ : /\/reservas\//),
    page.click("form.guest button[type=submit]"),
  ]);
  let held = null;
  if (!ctx.expect_checkout) {
    held = {
      state: await kit.text(page, ".state strong"),
      box: await kit.text(page, "#pay-title ~ p:last-of-type"),
    };
    layout.held = await kit.shoot(page, `${ctx.shot}-held`);
  }
  return {
    og_title: og,
    og_image: ogImage,
    total,
    nights,
    visited,
    final_url: page.url(),
    reservation_url: visited.find((u) => u.includes("/reservas/")) || null,
    held,
    layout,
  };
}
