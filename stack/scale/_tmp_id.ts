const id = crypto.randomUUID().slice(0, 8);
export default { fetch: () => new Response(id) } satisfies Deno.ServeDefaultExport;
