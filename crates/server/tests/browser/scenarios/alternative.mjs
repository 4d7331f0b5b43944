// Ask for taken dates: the page offers the nearest free ones; the first one books.
export default async function (ctx, kit) {
  const page = await kit.newPage(kit.browser);
  await page.goto(`${ctx.base}/reservar/${ctx.slug}?check_in=${ctx.check_in}&check_out=${ctx.check_out}&guests=2#cotizacion`);
  const refused = await kit.text(page, ".msg.error p");
  const form_offered_for_taken = (await page.$("form.guest")) !== null;
  const layout = await kit.shoot(page, "alternatives");
  const alt = await page.$(".alts a");
  if (!alt) throw new Error("no alternative offered");
  const alternative = (await alt.innerText()).trim();
  const href = await alt.getAttribute("href");
  await Promise.all([page.waitForLoadState("load"), alt.click()]);
  await page.fill("#name", ctx.name);
  await page.fill("#email", ctx.email);
  await Promise.all([
    page.waitForURL(/mercadopago\.com\.ar|\/reservas\//),
    page.click("form.guest button[type=submit]"),
  ]);
  return { refused, form_offered_for_taken, alternative, href, final_url: page.url(), layout };
}
