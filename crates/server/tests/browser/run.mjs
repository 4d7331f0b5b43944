// node run.mjs <scenario> — runs scenarios/<scenario>.mjs with the JSON context in
// $POSADA_BROWSER_CONTEXT and prints `RESULT <json>`; any failure exits non-zero with the error.
import { launch } from "./lib.mjs";
import * as kit from "./lib.mjs";

const name = process.argv[2];
if (!name || !/^[a-z0-9_-]+$/.test(name)) {
  console.error("usage: node run.mjs <scenario>");
  process.exit(2);
}
const ctx = JSON.parse(process.env.POSADA_BROWSER_CONTEXT || "{}");
const scenario = (await import(`./scenarios/${name}.mjs`)).default;
const browser = await launch();
try {
  const result = await scenario(ctx, { ...kit, browser });
  console.log("RESULT " + JSON.stringify(result));
} catch (e) {
  console.error(e && e.stack ? e.stack : String(e));
  // What the browser showed last, to see why.
  for (const context of browser.contexts()) {
    for (const page of context.pages()) {
      const body = await page.evaluate(() => document.body && document.body.innerText).catch(() => null);
      console.error(`--- ${page.url()}\n${body}`);
    }
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
