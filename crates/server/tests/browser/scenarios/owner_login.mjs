// The owner opens the web app: sent to the login, logs in, lands on Hoy.
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
  out.menu = await page.$$eval("nav.menu a", (as) => as.map((a) => a.textContent.trim()));
  return out;
}
