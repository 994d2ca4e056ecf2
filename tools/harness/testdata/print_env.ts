// Prints the names of the variables in its environment, one per line (run with --allow-env).
console.log(Object.keys(Deno.env.toObject()).sort().join("\n"));
