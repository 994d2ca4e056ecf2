// Runs until it is killed: for the timeout of tools/harness/processes.ts's runDeno.
setInterval(() => {}, 1000);
