// Automatización: the owner finds a discarded job among the failures, opens it (its error
// history), retries it, and watches it complete.
// ctx: { base, password, job_id }
export default async function (ctx, kit) {
  const page = await kit.newPage(kit.browser);
  const out = {};
  await kit.ownerLogin(page, ctx.base, ctx.password);
  await Promise.all([
    page.waitForURL(`${ctx.base}/dashboard/automatizacion`),
    page.click('nav.menu a[href="/dashboard/automatizacion"]'),
  ]);
  out.page = await kit.shootOwner(page, "owner-automatizacion");
  out.listed = await kit.text(page, `#trabajo-${ctx.job_id}`);
  out.chart = await kit.text(page, "#chart-desc");
  const jobUrl = `${ctx.base}/dashboard/automatizacion/trabajos/${ctx.job_id}`;
  await Promise.all([page.waitForURL(jobUrl), page.click(`#trabajo-${ctx.job_id} a`)]);
  out.job = await kit.shootOwner(page, "owner-trabajo");
  out.state_before = await kit.text(page, ".job-state");
  out.errors = await kit.text(page, ".job-errors");
  await Promise.all([
    page.waitForURL(/aviso=reintentado/),
    page.click('form[action$="/retry"] button[type=submit]'),
  ]);
  out.notice = await kit.text(page, ".notice");
  // The engine runs it within moments: reload until it says so.
  for (let i = 0; i < 40; i++) {
    out.state_after = await kit.text(page, ".job-state");
    if (out.state_after === "Completado") break;
    await page.waitForTimeout(250);
    await page.reload();
  }
  out.job_after = await kit.shootOwner(page, "owner-trabajo-reintentado");
  return out;
}
