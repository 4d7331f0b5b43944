// Automatización: the owner runs a periodic task now and sees its run recorded.
// ctx: { base, password, task }
export default async function (ctx, kit) {
  const page = await kit.newPage(kit.browser);
  const out = {};
  await kit.ownerLogin(page, ctx.base, ctx.password);
  await page.goto(`${ctx.base}/dashboard/automatizacion`);
  const row = `#tarea-${ctx.task}`;
  out.last_before = await kit.text(page, `${row} td[data-label="Última vez"]`);
  await Promise.all([
    page.waitForURL(/aviso=tarea-pedida/),
    page.click(`${row} form[action$="/run"] button[type=submit]`),
  ]);
  out.notice = await kit.text(page, ".notice");
  for (let i = 0; i < 60; i++) {
    out.last_after = await kit.text(page, `${row} td[data-label="Última vez"]`);
    if (out.last_after !== "Nunca") break;
    await page.waitForTimeout(250);
    await page.reload();
  }
  out.error_after = await kit.text(page, `${row} td[data-label="Último error"]`);
  out.smtp = await kit.text(page, "#conexion-smtp");
  out.page = await kit.shootOwner(page, "owner-automatizacion-tarea");
  return out;
}
