/**
 * `Deno.serve` for the tools that run for hours (the receiver, the web view): when an accept fails, for lack
 * of file descriptors above all, Deno closes the listener and rejects `finished`, and a program that does not
 * catch that ends (`Uncaught (in promise) Http: Error: Too many open files`). {@linkcode serveAgain} says so
 * in one line and listens again on the same port, with a bounded backoff, once descriptors are free.
 *
 * @module
 */

/** What {@linkcode serveAgain} returns: the address, and the stop. */
export interface Listener {
  /** The address it listens on (the port stays the same across restarts). */
  addr: Deno.NetAddr;
  /** Stops listening for good, as `Deno.HttpServer.shutdown` does; no restart follows. */
  shutdown(): Promise<void>;
}

/** Options of {@linkcode serveAgain}. */
export interface ServeAgainOptions {
  /** Who speaks in the lines printed (default `server`). */
  who?: string;
  /** Where the lines go (default: stderr). */
  print?: (line: string) => void;
  /** The first wait before listening again, doubled on each failure (default 50 ms). */
  firstDelayMs?: number;
  /** The longest wait between two tries (default 1000 ms). */
  maxDelayMs?: number;
}

/**
 * `Deno.serve(options, handler)`, listening again on the same port whenever the listener fails, until
 * {@linkcode Listener.shutdown}. The first start throws as `Deno.serve` does (a port in use stays an error).
 */
export function serveAgain(
  options: Deno.ServeTcpOptions,
  handler: Deno.ServeHandler<Deno.NetAddr>,
  { who = "server", print = (line) => console.error(line), firstDelayMs = 50, maxDelayMs = 1000 }:
    ServeAgainOptions = {},
): Listener {
  let server = Deno.serve(options, handler);
  const addr = server.addr;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watch = (current: Deno.HttpServer<Deno.NetAddr>) => {
    current.finished.catch((error) => {
      if (stopped) return;
      print(
        `${who}: stopped accepting connections on port ${addr.port} (${(error as Error).message}); ` +
          "listening again once descriptors are free",
      );
      retry(firstDelayMs);
    });
  };
  const retry = (delayMs: number) => {
    timer = setTimeout(() => {
      if (stopped) return;
      try {
        server = Deno.serve({ ...options, port: addr.port, onListen: () => {} }, handler);
      } catch {
        return retry(Math.min(delayMs * 2, maxDelayMs)); // most likely still no descriptor for the socket
      }
      print(`${who}: accepting connections on port ${addr.port} again`);
      watch(server);
    }, delayMs);
  };
  watch(server);
  return {
    addr,
    shutdown: async () => {
      stopped = true;
      clearTimeout(timer);
      await server.shutdown();
    },
  };
}
