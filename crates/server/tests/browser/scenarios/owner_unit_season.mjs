// Alojamientos y precios: the owner opens a unit, adds a season, changes its price, sends a price
// that does not read (and sees why), and previews a quote over the season.
// ctx: { base, password, slug, first, last, price, new_price, check_in, check_out, guests }
export default async function (ctx, kit) {
  const page = await kit.newPage(kit.browser);
  const out = {};
  await kit.ownerLogin(page, ctx.base, ctx.password);
  await Promise.all([
    page.waitForURL(`${ctx.base}/dashboard/alojamientos`),
    page.click('nav.menu a[href="/dashboard/alojamientos"]'),
  ]);
  out.list = await kit.shootOwner(page, "owner-alojamientos");
  const unitUrl = `${ctx.base}/dashboard/alojamientos/${ctx.slug}`;
  await Promise.all([page.waitForURL(unitUrl), page.click(`main a[href="/dashboard/alojamientos/${ctx.slug}"]`)]);
  out.unit = await kit.shootOwner(page, "owner-alojamiento");

  // Add a season.
  await page.fill("#new-season-name", "Verano");
  await page.fill("#new-season-first", ctx.first);
  await page.fill("#new-season-last", ctx.last);
  await page.fill("#new-season-price", ctx.price);
  await Promise.all([
    page.waitForURL(/aviso=temporada-agregada/),
    page.click('form[action$="/temporadas"] button[type=submit]'),
  ]);
  out.added_notice = await kit.text(page, ".notice");
  out.added_price = await kit.text(page, "#temporada-0 .season-price");

  // Change its price.
  await page.click("#temporada-0 summary");
  out.season_open = await kit.shootOwner(page, "owner-alojamiento-temporada");
  await page.fill("#season0-price", ctx.new_price);
  await Promise.all([
    page.waitForURL(/aviso=temporada-guardada/),
    page.click('#temporada-0 form[action$="/temporadas/0"] button[type=submit]'),
  ]);
  out.saved_notice = await kit.text(page, ".notice");
  out.saved_price = await kit.text(page, "#temporada-0 .season-price");

  // A base price that does not read: the page says so next to the field, keeps what was typed.
  await page.fill("#prices-base", "quince mil");
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/precios")),
    page.click("#form-prices button[type=submit]"),
  ]);
  await page.waitForLoadState("load");
  out.error_status = response.status();
  out.error_text = await kit.text(page, "#prices-base-error");
  out.error_kept = await page.inputValue("#prices-base");
  out.error_page = await kit.shootOwner(page, "owner-alojamiento-error");

  // The quote preview over the season.
  await page.goto(unitUrl);
  await page.fill("#quote-in", ctx.check_in);
  await page.fill("#quote-out", ctx.check_out);
  await page.fill("#quote-guests", String(ctx.guests));
  await Promise.all([page.waitForURL(/entrada=/), page.click("#cotizacion form button[type=submit]")]);
  out.quote_nights = await kit.text(page, ".quote-nights");
  out.quote_total = await kit.text(page, ".quote-total");
  out.quote_deposit = await kit.text(page, ".quote-deposit");
  out.quote_lines = await page.$$eval("#quote-result tbody tr", (rows) => rows.map((r) => r.textContent.replace(/\s+/g, " ").trim()));
  out.quote = await kit.shootOwner(page, "owner-alojamiento-cotizacion");
  out.snippet = await kit.text(page, "pre.unit-snippet code");
  return out;
}
