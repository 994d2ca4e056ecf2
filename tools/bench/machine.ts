/**
 * What the benchmark ran on: CPU, cores, memory, how busy the machine was, and the versions of Deno,
 * Node.js and the packages involved.
 *
 * @module
 */
import { childEnv, NODE, ROOT } from "@example/harness/processes";
import { commandOutput, procInfo } from "./load_and_usage.ts";
import { wrkVersion } from "./wrk.ts";

/** The machine, its load, and the software versions of a benchmark run. */
export interface Machine {
  /** The CPU's model name. */
  cpuModel: string;
  /** Logical CPU cores. */
  cores: number;
  /** Memory, in GiB. */
  memoryGiB: number;
  /** `/proc/loadavg`'s 1, 5 and 15 minute load averages. */
  loadAverage: [number, number, number];
  /** Other processes that were using CPU for builds (Go, Rust, C compilers) when this was read. */
  builds: string[];
  /** Versions of the programs involved, by name (`deno`, `node`, …). */
  versions: Record<string, string>;
  /** `git rev-parse HEAD` of the code measured (`unknown` outside a checkout). */
  commit: string;
}

/** How busy the machine is: load averages and build processes, from `/proc` (see `node/proc.cjs`). */
export async function machineLoad(): Promise<Pick<Machine, "loadAverage" | "builds">> {
  const { loadAverage, builds } = await procInfo<Machine>("machine");
  return { loadAverage, builds };
}

/** Versions of the npm packages of the Node.js side, from `node/package-lock.json`. */
async function nodePackageVersions(): Promise<Record<string, string>> {
  const lock = JSON.parse(await Deno.readTextFile(new URL("node/package-lock.json", import.meta.url)));
  const versions: Record<string, string> = {};
  for (
    const name of [
      "@opentelemetry/sdk-node",
      "@opentelemetry/instrumentation-http",
      "@opentelemetry/exporter-trace-otlp-proto",
      "@opentelemetry/sdk-trace",
      "@opentelemetry/api",
    ]
  ) {
    const version = lock.packages?.[`node_modules/${name}`]?.version;
    if (version !== undefined) versions[`node: ${name}`] = version;
  }
  return versions;
}

/** `git rev-parse HEAD` of the repository: the commit a run measures, recorded with its results. */
export async function gitCommit(): Promise<string> {
  const output = await new Deno.Command("git", { args: ["rev-parse", "HEAD"], cwd: ROOT, env: childEnv() })
    .output().catch(() => undefined);
  return new TextDecoder().decode(output?.stdout).trim() || "unknown";
}

/** Describes the machine and the software of this run. */
export async function describeMachine(): Promise<Machine> {
  const machine = await procInfo<Omit<Machine, "versions">>("machine");
  const deno = (await commandOutput("deno", ["--version"])).split("\n")[0] || "unknown";
  return {
    ...machine,
    commit: await gitCommit(),
    versions: {
      deno: deno.replace(/^deno /, ""),
      // The pinned Node.js that runs the Node.js servers (not the system's).
      node: (await commandOutput(NODE, ["--version"])) || "unknown",
      "deno: @opentelemetry/api":
        import.meta.resolve("@opentelemetry/api").match(/api[@/](\d+\.\d+\.\d+)/)?.[1] ??
          "unknown",
      ...await nodePackageVersions(),
      // Pinned in install.sh (`go install` leaves the binary without a version of its own to print).
      vegeta: "12.13.0",
      wrk: await wrkVersion() ?? "not installed",
    },
  };
}
