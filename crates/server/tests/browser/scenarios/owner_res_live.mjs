// Reservas in two tabs: B watches the list, A opens the hold and presses Confirmar; B shows it
// confirmed without a reload (live stream). Then A searches by e-mail (POST) and opens a code
// that does not exist. Every page shot at 390 and 1280 px.
// ctx: { base, password, code, email }
export default async function (ctx, kit) {
  const out = {};
  const a = await kit.newPage(kit.browser);
  const b = await kit.newPage(kit.browser, { width: 1280 });
  await kit.ownerLogin(a, ctx.base, ctx.password);
  await kit.ownerLogin(b, ctx.base, ctx.password);
  const row = `tr[data-code="${ctx.code}"]`;

  // B: the list, listening.
  await b.goto(`${ctx.base}/dashboard/reservas`);
  await b.waitForFunction(() => document.getElementById("live-state").textContent === "En vivo");
  out.list = await kit.shootOwner(b, "owner-reservas");
  out.b_before = await kit.text(b, row);
  // Anything set on B's document survives only if B is not reloaded.
  await b.evaluate(() => { window.posadaSameDocument = true; });

  // A: the detail, then Confirmar.
  await a.goto(`${ctx.base}/dashboard/reservas/${ctx.code}`);
  out.detail = await kit.shootOwner(a, "owner-reserva");
  out.a_before = await kit.text(a, "#estado");
  out.a_title = await kit.text(a, "h1");
  await Promise.all([
    a.waitForURL(/aviso=confirmada/),
    a.click("#acciones button:has-text('Confirmar')"),
  ]);
  out.a_after = await kit.text(a, "#estado");
  out.a_notice = await kit.text(a, ".notice");
  out.confirmed = await kit.shootOwner(a, "owner-reserva-confirmada");

  // B: the row turns "confirmada" by itself.
  await b.waitForFunction(
    (sel) => { const r = document.querySelector(sel); return !!r && r.textContent.includes("confirmada"); },
    row,
    { timeout: 15000 },
  );
  out.b_after = await kit.text(b, row);
  out.b_same_document = await b.evaluate(() => window.posadaSameDocument === true);
  out.b_refreshed = await b.evaluate(() => !!document.getElementById("contenido").dataset.updated);

  // A: search by e-mail (a POST: the URL keeps no guest data).
  await a.goto(`${ctx.base}/dashboard/reservas`);
  await a.fill("#q", ctx.email);
  await a.click("form[role=search] button[type=submit]");
  await a.waitForFunction(() => {
    const t = document.getElementById("total");
    return !!t && t.textContent.includes("Resultados de la búsqueda");
  });
  out.search_url = a.url();
  out.search_total = await kit.text(a, "#total");
  out.search_rows = await a.$$eval("tr[data-code]", (rs) => rs.map((r) => r.dataset.code));
  out.search = await kit.shootOwner(a, "owner-reservas-busqueda");

  // A code that does not exist: a message, and a way back.
  await a.goto(`${ctx.base}/dashboard/reservas/ZZZZZ-ZZZZZ`);
  out.missing_text = await kit.text(a, "main");
  out.missing = await kit.shootOwner(a, "owner-reserva-inexistente");
  return out;
}
