// Open each URL and report its status and visible text (the 404 checks).
export default async function (ctx, kit) {
  const out = [];
  const page = await kit.newPage(kit.browser);
  for (const url of ctx.urls) {
    const res = await page.goto(url);
    out.push({ status: res.status(), heading: await kit.text(page, "h1"), body: await page.content() });
  }
  await kit.shoot(page, "not-found");
  return out;
}
