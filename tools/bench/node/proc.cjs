// Reads what the benchmark needs from Linux's /proc, which Deno lets a program read only with --allow-all:
//
//   node proc.cjs usage PID   → {"peakRssKiB": …, "cpuSeconds": …} of process PID (VmHWM; utime + stime)
//   node proc.cjs machine     → {"cpuModel", "cores", "memoryGiB", "loadAverage", "builds"}
//   node proc.cjs cpu         → {"busySeconds", "totalSeconds"}: CPU time of all cores since boot (/proc/stat)
"use strict";

const fs = require("node:fs");
const os = require("node:os");

const BUILD_COMMANDS = new Set([
  "go",
  "compile",
  "link",
  "asm",
  "cgo",
  "cargo",
  "rustc",
  "cc1",
  "cc1plus",
  "ld",
]);
const TICKS_PER_SECOND = 100; // USER_HZ, 100 on Linux.

function usage(pid) {
  if (!/^\d+$/.test(pid ?? "")) throw new Error("usage: node proc.cjs usage PID");
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // The fields after the command name (in parentheses, may hold spaces); utime and stime are the 14th and
  // 15th fields of the line.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return {
    peakRssKiB: Number(status.match(/^VmHWM:\s+(\d+) kB$/m)?.[1] ?? NaN),
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
  };
}

function builds() {
  const found = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const command = fs.readFileSync(`/proc/${name}/comm`, "utf8").trim();
      if (BUILD_COMMANDS.has(command)) found.push(`${command}(${name})`);
    } catch {
      // The process ended meanwhile.
    }
  }
  return found;
}

function machine() {
  return {
    cpuModel: os.cpus()[0]?.model?.trim() ?? "unknown",
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
    loadAverage: os.loadavg().map((value) => Math.round(value * 100) / 100),
    builds: builds(),
  };
}

function cpu() {
  // cpu  user nice system idle iowait irq softirq steal …, in ticks, summed over all cores.
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fs.readFileSync("/proc/stat", "utf8")
    .split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + (steal ?? 0);
  return { busySeconds: busy / TICKS_PER_SECOND, totalSeconds: (busy + idle + iowait) / TICKS_PER_SECOND };
}

const [what, pid] = process.argv.slice(2);
if (what === "usage") console.log(JSON.stringify(usage(pid)));
else if (what === "machine") console.log(JSON.stringify(machine()));
else if (what === "cpu") console.log(JSON.stringify(cpu()));
else throw new Error("usage: node proc.cjs usage PID | machine | cpu");
