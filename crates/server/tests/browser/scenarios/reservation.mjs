// Open a reservation page and read what it shows.
export default async function (ctx, kit) {
  const page = await kit.newPage(kit.browser);
  const res = await page.goto(ctx.url);
  return {
    status: res.status(),
    state: await kit.text(page, ".state strong"),
    directions: await kit.text(page, ".directions"),
    can_cancel: (await page.$('form[action$="/cancelar"]')) !== null,
    layout: await kit.shoot(page, ctx.shot || "reservation"),
  };
}
