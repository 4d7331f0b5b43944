// The owner opens the web app: sent to the login, logs in, lands on Hoy and reads the day.
// ctx: { base, password }
export default async function (ctx, kit) {
  const page = await kit.newPage(kit.browser);
  const out = {};
  await page.goto(`${ctx.base}/dashboard`);
  out.login_url = page.url();
  out.login = await kit.shootOwner(page, "owner-login");
  await kit.ownerLogin(page, ctx.base, ctx.password);
  out.after_login_url = page.url();
  out.hoy = await kit.shootOwner(page, "owner-hoy");
  out.main = await kit.text(page, "main");
  out.arrivals_today = await kit.text(page, "#llegadas-hoy");
  out.arrivals_tomorrow = await kit.text(page, "#llegadas-manana");
  out.departures_tomorrow = await kit.text(page, "#salidas-manana");
  out.expiring = await kit.text(page, "#vencen");
  out.menu = await page.$$eval("nav.menu a", (as) => as.map((a) => a.textContent.trim()));
  // A stay's code leads to its detail.
  await Promise.all([page.waitForURL(/\/dashboard\/reservas\//), page.click("#llegadas-hoy a")]);
  out.detail_url = page.url();
  out.detail_title = await kit.text(page, "h1");
  return out;
}
