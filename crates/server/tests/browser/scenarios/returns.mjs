// Come back from Mercado Pago through each back_url, each in a fresh browser context (no cookie
// from the booking: the guest may pay on another device), and read the message and the state.
export default async function (ctx, kit) {
  const out = {};
  for (const [kind, url] of Object.entries(ctx.urls)) {
    const page = await kit.newPage(kit.browser);
    const res = await page.goto(url);
    out[kind] = {
      status: res.status(),
      message: await kit.text(page, "[data-pago]"),
      state: await kit.text(page, ".state strong"),
      pay_button: (await page.$("a.button.primary")) !== null,
      layout: await kit.shoot(page, `return-${kind}`),
    };
    await page.context().close();
  }
  return out;
}
