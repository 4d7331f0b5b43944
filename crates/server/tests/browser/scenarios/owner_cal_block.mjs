// Calendario: the owner taps a free night on the phone, fills the block form (first without a
// reason: the message shows next to the field), blocks the night, opens the block's page, and
// a guest then sees the night taken on the booking page. A second tab at desktop width sees
// the block appear live.
// ctx: { base, password, slug, month: "YYYY-MM", night: "YYYY-MM-DD", night_label: "14 de febrero",
//        long_month: "YYYY-MM" (a month of 31 nights) }
export default async function (ctx, kit) {
  const out = {};
  const page = await kit.newPage(kit.browser);
  await kit.ownerLogin(page, ctx.base, ctx.password);
  const calendar = `${ctx.base}/dashboard/calendario?mes=${ctx.month}&unidad=${ctx.slug}`;
  await page.goto(calendar);
  out.calendar = await kit.shootOwner(page, "owner-calendario");
  out.before = await kit.text(page, `table.cal-month td[data-date="${ctx.night}"]`);
  out.held = await kit.text(page, "table.cal-month td.k-held");
  out.phone_grid_visible = await page.isVisible("table.cal-month");
  out.desktop_table_visible_on_phone = await page.isVisible("table.cal-table");

  // A second tab, on a desktop, watching the same month.
  const desk = await kit.newPage(kit.browser, { width: 1280 });
  await kit.ownerLogin(desk, ctx.base, ctx.password);
  await desk.goto(`${ctx.base}/dashboard/calendario?mes=${ctx.long_month}&unidad=${ctx.slug}`);
  out.long_month_desktop_overflow = await kit.horizontalOverflow(desk);
  out.long_month = await kit.shootOwner(desk, "owner-calendario-mes-largo");
  await desk.goto(calendar);
  out.desk_phone_grid_visible = await desk.isVisible("table.cal-month");
  out.desk_table_visible = await desk.isVisible("table.cal-table");
  await desk.waitForFunction(() => document.getElementById("live-state").textContent === "En vivo");

  // Tap the free night: the block form opens with it as the first night.
  await Promise.all([
    page.waitForURL(/\/dashboard\/calendario\/bloqueos\/nuevo\?/),
    page.click(`table.cal-month td[data-date="${ctx.night}"] a`),
  ]);
  out.form = await kit.shootOwner(page, "owner-calendario-bloquear");
  out.form_from = await page.inputValue("#b-desde");
  out.form_until = await page.inputValue("#b-hasta");
  out.form_unit = await page.inputValue("#b-unidad");

  // Sent without a reason: the message next to the field, the dates kept.
  await Promise.all([page.waitForLoadState("load"), page.click("form.card button[type=submit]")]);
  await page.waitForSelector("#b-motivo-err");
  out.error = await kit.text(page, "#b-motivo-err");
  out.error_kept_from = await page.inputValue("#b-desde");
  out.form_error = await kit.shootOwner(page, "owner-calendario-bloquear-error");

  await page.fill("#b-motivo", "Arreglo del techo");
  await Promise.all([
    page.waitForURL(/aviso=bloqueo-creado/),
    page.click("form.card button[type=submit]"),
  ]);
  out.notice = await kit.text(page, "p.notice");
  out.after = await kit.text(page, `table.cal-month td[data-date="${ctx.night}"]`);
  out.after_label = await page.getAttribute(`table.cal-month td[data-date="${ctx.night}"] a`, "aria-label");
  out.calendar_blocked = await kit.shootOwner(page, "owner-calendario-bloqueado");

  // The desktop tab refreshed itself: the unit's row now has the block.
  await desk.waitForFunction(
    (night) => {
      const td = document.querySelector(`table.cal-table td[data-date="${night}"]`);
      return td && td.classList.contains("k-owner");
    },
    ctx.night,
    { timeout: 15000 },
  );
  out.desk_cell = await kit.text(desk, `table.cal-table td[data-date="${ctx.night}"]`);
  out.desk_updated = await desk.evaluate(() => Boolean(document.getElementById("contenido").dataset.updated));

  // The block's own page, with its delete button.
  await Promise.all([
    page.waitForURL(/\/dashboard\/calendario\/bloqueos\/\d+$/),
    page.click(`table.cal-month td[data-date="${ctx.night}"] a`),
  ]);
  out.block_page = await kit.shootOwner(page, "owner-calendario-bloqueo");
  out.block_text = await kit.text(page, "main");

  // A guest opens the booking page for that month: the night is taken.
  const guest = await kit.newPage(kit.browser);
  await guest.goto(`${ctx.base}/reservar/${ctx.slug}?mes=${ctx.month}`);
  out.guest_night = await guest.getAttribute(`[aria-label^="${ctx.night_label}:"]`, "aria-label");
  return out;
}
