// Canales: the owner adds a channel's calendar from the phone, syncs it, and sees the conflict
// it brings (a night the channel says is taken over one of our confirmed stays); then makes the
// unit's export address for Airbnb and copies it.
// ctx: { base, password, unit_id, feed_url, month: "YYYY-MM", slug }
export default async function (ctx, kit) {
  const out = {};
  const page = await kit.newPage(kit.browser);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: ctx.base });
  await kit.ownerLogin(page, ctx.base, ctx.password);
  await page.goto(`${ctx.base}/dashboard/canales`);
  out.empty = await kit.shootOwner(page, "owner-canales");

  await Promise.all([
    page.waitForURL(/\/dashboard\/canales\/nuevo/),
    page.click(`section[data-unit="${ctx.unit_id}"] a[href^="/dashboard/canales/nuevo"]`),
  ]);
  out.form_unit = await page.inputValue("#f-unidad");
  out.form = await kit.shootOwner(page, "owner-canales-agregar");
  await page.selectOption("#f-canal", "airbnb");
  // A pasted page address instead of the calendar's: the message next to the field, the rest kept.
  await page.fill("#f-url", "calendario de airbnb");
  await Promise.all([page.waitForLoadState("load"), page.click("form.card button[type=submit]")]);
  await page.waitForSelector("#f-url-err");
  out.url_error = await kit.text(page, "#f-url-err");
  out.kept_channel = await page.inputValue("#f-canal");
  out.form_error = await kit.shootOwner(page, "owner-canales-agregar-error");
  await page.fill("#f-url", ctx.feed_url);
  await Promise.all([
    page.waitForURL(/aviso=agregado/),
    page.click("form.card button[type=submit]"),
  ]);
  out.added_notice = await kit.text(page, "p.notice");
  out.added = await kit.text(page, "li.chan-feed");

  // "Sincronizar ahora": the page comes back and shows the conflict once the sync is done.
  await Promise.all([
    page.waitForURL(/aviso=sincronizando/),
    page.click("li.chan-feed form[action$='/sincronizar'] button"),
  ]);
  // The page refreshes itself after the sync's live event. The job may finish between this
  // page's render and the opening of its event stream (the stream does not replay what came
  // before it opened): then one reload shows it, and the result says so.
  const synced = () => {
    const feed = document.querySelector("li.chan-feed");
    return Boolean(feed && feed.querySelector(".chan-conflicts") && !feed.textContent.includes("todavía ninguna"));
  };
  try {
    await page.waitForFunction(synced, null, { timeout: 10000 });
    out.reloaded = false;
  } catch (e) {
    await page.reload();
    await page.waitForFunction(synced, null, { timeout: 10000 });
    out.reloaded = true;
  }
  out.conflict = await kit.text(page, ".chan-conflicts");
  out.feed = await kit.text(page, "li.chan-feed");
  out.synced = await kit.shootOwner(page, "owner-canales-conflicto");

  // The calendar marks the overlap.
  await page.goto(`${ctx.base}/dashboard/calendario?mes=${ctx.month}&unidad=${ctx.slug}`);
  out.calendar_conflicts = await page.$$eval("table.cal-month td.k-conflict", (tds) => tds.map((td) => td.dataset.date));
  out.calendar = await kit.shootOwner(page, "owner-calendario-conflicto");

  // Edit form, filled in.
  await page.goto(`${ctx.base}/dashboard/canales`);
  await Promise.all([
    page.waitForURL(/\/editar$/),
    page.click("li.chan-feed a[href$='/editar']"),
  ]);
  out.edit_url = await page.inputValue("#f-url");
  out.edit = await kit.shootOwner(page, "owner-canales-editar");

  // "Quitar" asks first, saying what it frees.
  await page.goto(`${ctx.base}/dashboard/canales`);
  await Promise.all([
    page.waitForURL(/\/quitar$/),
    page.click("li.chan-feed a[href$='/quitar']"),
  ]);
  out.remove_text = await kit.text(page, "main");
  out.remove = await kit.shootOwner(page, "owner-canales-quitar");

  // Our address for Airbnb: made, shown once, copied.
  await page.goto(`${ctx.base}/dashboard/canales`);
  await Promise.all([
    page.waitForLoadState("load"),
    page.click(`section[data-unit="${ctx.unit_id}"] form[action$="/airbnb"] button`),
  ]);
  await page.waitForSelector("#export-url");
  out.export_url = await page.inputValue("#export-url");
  out.export_readonly = await page.getAttribute("#export-url", "readonly");
  await page.waitForSelector("button[data-copy]:not([hidden])");
  await page.click("button[data-copy]");
  await page.waitForFunction(() => document.getElementById("copy-state").textContent !== "");
  out.copy_state = await kit.text(page, "#copy-state");
  out.clipboard = await page.evaluate(() => navigator.clipboard.readText().catch(() => null));
  out.export = await kit.shootOwner(page, "owner-canales-exportar");
  return out;
}
