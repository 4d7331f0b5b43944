// The owner opens Conversaciones, opens the guest's thread, takes it over from the assistant and
// answers. ctx: { base, password, guest }
export default async function (ctx, kit) {
  const page = await kit.newPage(kit.browser);
  await kit.ownerLogin(page, ctx.base, ctx.password);
  const out = {};
  await page.click('nav.menu a:has-text("Conversaciones")');
  await page.waitForURL(`${ctx.base}/dashboard/conversaciones`);
  out.list = await kit.shootOwner(page, "owner-conversaciones");
  out.list_text = await kit.text(page, "main");
  await page.click(`main a:has-text("${ctx.guest}")`);
  await page.waitForSelector("ol.thread");
  out.thread_url = page.url();
  out.thread = await kit.shootOwner(page, "owner-conversacion");
  out.before = await kit.text(page, "main");
  await Promise.all([page.waitForURL(/aviso=tomada/), page.click('button:has-text("Tomar la conversación")')]);
  out.taken = await kit.text(page, ".notice");
  await page.fill("#reply", ctx.reply);
  await Promise.all([page.waitForURL(/aviso=enviada/), page.click('button:has-text("Enviar por WhatsApp")')]);
  out.sent = await kit.text(page, ".notice");
  out.after = await kit.text(page, "ol.thread");
  out.give_back = (await page.$('button:has-text("Devolver al asistente")')) !== null;
  // Cuenta, for its screenshot and layout.
  await page.click('nav.menu a:has-text("Cuenta")');
  await page.waitForURL(`${ctx.base}/dashboard/cuenta`);
  out.account = await kit.shootOwner(page, "owner-cuenta");
  return out;
}
