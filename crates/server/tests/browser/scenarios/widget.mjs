// The owner's snippets on a plain HTML page served from another origin (a server of our own on
// another port): the script and the iframe both show the calendar and a "Reservar" button.
import { createServer } from "node:http";

export default async function (ctx, kit) {
  const html = `<!doctype html><html lang="es"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Cabañas del Lago</title></head>
<body><h1>Cabañas del Lago</h1><p>Nuestro sitio.</p>
<div id="con-script">${ctx.snippet_script}</div>
<div id="con-iframe">${ctx.snippet_iframe}</div></body></html>`;
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(html);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const origin = `http://localhost:${server.address().port}`;
  try {
    const page = await kit.newPage(kit.browser);
    await page.goto(origin + "/");
    await page.waitForFunction(() => document.querySelectorAll("iframe").length === 2);
    const frames = [];
    for (const handle of await page.$$("iframe")) {
      const frame = await handle.contentFrame();
      await frame.waitForSelector("#calendario table", { timeout: 10000 });
      frames.push({
        src: await handle.getAttribute("src"),
        title: await frame.textContent("h1"),
        free_days: (await frame.$$("#calendario td.free a")).length,
        reservar: await frame.getAttribute("a.button.primary", "href"),
        reservar_text: (await frame.textContent("a.button.primary")).trim(),
      });
    }
    const layout = await kit.shoot(page, "widget-host");
    return { host_origin: origin, frames, layout };
  } finally {
    server.close();
  }
}
