#!/usr/bin/env node
// Runs a firmware image on an emulated RP2040 (rp2040js) and speaks JSON lines.
//
//   node emu/run.mjs [options] IMAGE.uf2 [MORE.uf2 ...]
//
// Options:
//   --load-bin ADDR FILE  copy a raw binary into flash at ADDR (repeatable)
//   --bootrom FILE        the RP2040 B1 boot ROM (default: $MTC_BOOTROM, else
//                         <repo>/../shared/third_party/rp2040-bootrom/bootrom-b1.bin)
//   --until-ms N          run N simulated milliseconds, print stats and exit
//   --wait                start paused at t=0 and wait for commands on stdin
//   --max-wall-s N        give up after N seconds of wall time (exit code 3)
//   --slice N             instructions per time slice before yielding (default 200000)
//   --quiet-gpio          do not report GPIO events
//   --slip-cmd CMD        run CMD (/bin/sh -c) and join the chip's UART1 to its
//                         stdin/stdout (SLIP bytes; emu/tun_bridge.c bridges them to a
//                         TUN device). Bytes reach UART1's receive FIFO at the baud
//                         rate the firmware set, never overfilling it. Implies
//                         --realtime.
//   --realtime            simulated time never runs ahead of wall time (the peer on
//                         the network lives in wall time); while the SLIP line is cut
//                         the chip runs free, and pacing resumes from there
//   --paint A:B           fill SRAM A..B (hex) with 0xa5 at every chip start (stack painting)
//
// Events on stdout, one JSON object a line, each with t_us (simulated µs since
// power-up, continuous across resets):
//   {"ev":"reset","cause":"power_on"|"watchdog"|"watchdog_force"|"sysresetreq"}
//   {"ev":"gpio","pin":16,"out":true,"level":1}  a pin's direction or driven level changed
//   {"ev":"log","src":"usb"|"uart0","line":"..."}
//   {"ev":"usb","state":"enabled"|"connected"}   the device attached / the host opened the CDC port
//   {"ev":"stalled","wd_enabled":true,"wd_load":N,"wd_last_feed_us":T}
//   {"ev":"paused"} {"ev":"stats",...} {"ev":"exit",...} {"ev":"error","message":...}
//   {"ev":"slip","dir":"tx"|"rx","len":N,"head":"hex"}  a SLIP frame left UART1 (tx) or
//                         its last byte entered UART1's receive FIFO (rx); head: its first 64 bytes;
//                         "lost": true for a frame the chip sent while the line was cut
//   {"ev":"mem","addr":A,"hex":"..."}               answer to read
//
// Commands on stdin, one JSON object a line:
//   {"cmd":"run","until_ms":N}     run to simulated time N ms, then {"ev":"paused"}
//   {"cmd":"input","pin":1,"level":0}   drive a pin from outside (level null: release it)
//   {"cmd":"stats"}  {"cmd":"pins"} (-> {"ev":"pins",...})  {"cmd":"stall"}  {"cmd":"quit"}
//   {"cmd":"uart_send","data":"..."}  {"cmd":"usb_send","data":"..."}
//   {"cmd":"link","up":false|true}  cut / restore the SLIP line (bytes both ways are lost)
//   {"cmd":"read","addr":A,"len":N}  read N bytes of SRAM (-> {"ev":"mem",...})
//
// What rp2040js does not model and this runner adds:
//   - a USB host that NAKs: the CDC OUT endpoint is answered only when there is
//     data to send (rp2040js's own host answers with empty packets at once,
//     which keeps the device in its USB interrupt);
//   - pad pulls: an input pin that nothing drives reads its pull-up/pull-down level,
//     and an output pin reads back the level it drives;
//   - the watchdog reset: rp2040js counts the watchdog down (2 ticks a µs, the
//     RP2040-E1 erratum) and keeps SCRATCH0-7 and REASON, but does not reset the
//     chip; here a watchdog timeout (or CTRL.TRIGGER, or AIRCR.SYSRESETREQ) builds a
//     fresh chip with the same flash, carries SCRATCH0-7 over, sets REASON and
//     starts again at 0x10000000;
//   - the stall: {"cmd":"stall"} parks the core as if it spun forever with
//     PRIMASK set (no instruction runs, no interrupt is taken, so nothing can feed
//     the watchdog) while the clock and every peripheral, the watchdog included,
//     keep running. The stall ends only with a reset.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RP2040, USBCDC } from 'rp2040js';

const FLASH_BASE = 0x10000000;
const FLASH_SIZE = 2 * 1024 * 1024; // the Pico W's W25Q16
const UF2_MAGIC_START0 = 0x0a324655;
const UF2_MAGIC_START1 = 0x9e5d5157;
const UF2_MAGIC_END = 0x0ab16f30;
const UF2_FLAG_NOT_MAIN_FLASH = 0x00000001;
const UF2_FLAG_FAMILY_ID = 0x00002000;
const RP2040_FAMILY_ID = 0xe48bff56;
const WATCHDOG_REASON_TIMER = 1;
const WATCHDOG_REASON_FORCE = 2;
const PPB_AIRCR = 0xd0c;

class UsageError extends Error {}

// ---------------------------------------------------------------- images

/** Checks every block of a UF2 file; returns [{addr, data}] or throws. */
export function parseUf2(buf, name) {
  if (buf.length === 0 || buf.length % 512 !== 0) {
    throw new UsageError(`${name}: not a UF2 file (size ${buf.length} is not a non-zero multiple of 512)`);
  }
  const blocks = [];
  let total = null;
  for (let off = 0; off < buf.length; off += 512) {
    const n = off / 512;
    const u32 = (o) => buf.readUInt32LE(off + o);
    if (u32(0) !== UF2_MAGIC_START0 || u32(4) !== UF2_MAGIC_START1 || u32(508) !== UF2_MAGIC_END) {
      throw new UsageError(`${name}: block ${n}: bad UF2 magic`);
    }
    const flags = u32(8);
    const addr = u32(12);
    const size = u32(16);
    const blockNo = u32(20);
    const numBlocks = u32(24);
    const family = u32(28);
    if (flags & UF2_FLAG_NOT_MAIN_FLASH) {
      throw new UsageError(`${name}: block ${n}: marked "not main flash"`);
    }
    if (!(flags & UF2_FLAG_FAMILY_ID) || family !== RP2040_FAMILY_ID) {
      throw new UsageError(
        `${name}: block ${n}: family 0x${family.toString(16)} (flags 0x${flags.toString(16)}), ` +
          `expected RP2040 family 0x${RP2040_FAMILY_ID.toString(16)}`,
      );
    }
    if (size === 0 || size > 476) {
      throw new UsageError(`${name}: block ${n}: payload size ${size} outside 1..476`);
    }
    if (addr < FLASH_BASE || addr + size > FLASH_BASE + FLASH_SIZE) {
      throw new UsageError(
        `${name}: block ${n}: address 0x${addr.toString(16)}+${size} outside flash ` +
          `0x${FLASH_BASE.toString(16)}..0x${(FLASH_BASE + FLASH_SIZE).toString(16)}`,
      );
    }
    if (numBlocks === 0 || blockNo >= numBlocks || (total !== null && numBlocks !== total)) {
      throw new UsageError(`${name}: block ${n}: block number ${blockNo} of ${numBlocks} is inconsistent`);
    }
    total = numBlocks;
    blocks.push({ addr, data: Buffer.from(buf.subarray(off + 32, off + 32 + size)) });
  }
  if (blocks.length !== total) {
    throw new UsageError(`${name}: holds ${blocks.length} blocks but says it has ${total}`);
  }
  return blocks;
}

function parseAddr(text) {
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(text)) {
    throw new UsageError(`bad address: ${text}`);
  }
  return Number(text);
}

function readInput(file) {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${err.message}`);
  }
}

function defaultBootrom() {
  if (process.env.MTC_BOOTROM) {
    return process.env.MTC_BOOTROM;
  }
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', '..', 'shared', 'third_party', 'rp2040-bootrom', 'bootrom-b1.bin');
}

function parseArgs(argv) {
  const opts = {
    uf2: [],
    bins: [],
    bootrom: null,
    untilMs: null,
    wait: false,
    maxWallS: null,
    slice: 200000,
    gpio: true,
    slipCmd: null,
    realtime: false,
    paint: null,
  };
  const num = (name, v) => {
    const x = Number(v);
    if (v === undefined || !Number.isFinite(x) || x <= 0) {
      throw new UsageError(`${name} needs a positive number`);
    }
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--load-bin') {
      if (i + 2 >= argv.length) throw new UsageError('--load-bin needs ADDR FILE');
      opts.bins.push({ addr: parseAddr(argv[i + 1]), file: argv[i + 2] });
      i += 2;
    } else if (a === '--bootrom') {
      opts.bootrom = argv[++i];
      if (!opts.bootrom) throw new UsageError('--bootrom needs a file');
    } else if (a === '--until-ms') {
      opts.untilMs = num(a, argv[++i]);
    } else if (a === '--max-wall-s') {
      opts.maxWallS = num(a, argv[++i]);
    } else if (a === '--slice') {
      opts.slice = Math.floor(num(a, argv[++i]));
    } else if (a === '--wait') {
      opts.wait = true;
    } else if (a === '--quiet-gpio') {
      opts.gpio = false;
    } else if (a === '--slip-cmd') {
      opts.slipCmd = argv[++i];
      if (!opts.slipCmd) throw new UsageError('--slip-cmd needs a command');
      opts.realtime = true;
    } else if (a === '--realtime') {
      opts.realtime = true;
    } else if (a === '--paint') {
      const m = /^(0x[0-9a-fA-F]+):(0x[0-9a-fA-F]+)$/.exec(argv[++i] || '');
      if (!m) throw new UsageError('--paint needs START:END in hex');
      opts.paint = { start: Number(m[1]), end: Number(m[2]) };
      if (opts.paint.start < 0x20000000 || opts.paint.end > 0x20042000 || opts.paint.start >= opts.paint.end) {
        throw new UsageError('--paint range must lie inside SRAM 0x20000000..0x20042000');
      }
    } else if (a === '-h' || a === '--help') {
      opts.help = true;
    } else if (a.startsWith('-')) {
      throw new UsageError(`unknown option ${a}`);
    } else {
      opts.uf2.push(a);
    }
  }
  if (!opts.help && opts.uf2.length === 0 && opts.bins.length === 0) {
    throw new UsageError('nothing to run: give a UF2 file or --load-bin ADDR FILE');
  }
  return opts;
}

/** Builds the 2 MB flash contents from the UF2 files and binaries (erased = 0xff). */
function buildFlash(opts) {
  const flash = new Uint8Array(FLASH_SIZE).fill(0xff);
  for (const file of opts.uf2) {
    for (const { addr, data } of parseUf2(readInput(file), file)) {
      flash.set(data, addr - FLASH_BASE);
    }
  }
  for (const { addr, file } of opts.bins) {
    const data = readInput(file);
    if (addr < FLASH_BASE || addr + data.length > FLASH_BASE + FLASH_SIZE || data.length === 0) {
      throw new UsageError(
        `${file}: ${data.length} bytes at 0x${addr.toString(16)} do not fit flash ` +
          `0x${FLASH_BASE.toString(16)}..0x${(FLASH_BASE + FLASH_SIZE).toString(16)}`,
      );
    }
    flash.set(data, addr - FLASH_BASE);
  }
  return flash;
}

function loadBootrom(file) {
  const buf = readInput(file);
  if (buf.length !== 16384) {
    throw new UsageError(`${file}: a boot ROM has 16384 bytes, this has ${buf.length}`);
  }
  // A fresh, 4-byte aligned copy for the Uint32Array view.
  const copy = new Uint8Array(buf.length);
  copy.set(buf);
  return new Uint32Array(copy.buffer);
}

// ---------------------------------------------------------------- output

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

/** rp2040js logs through this: warnings and errors go to stderr, repeated ones only a few times. */
class StderrLogger {
  constructor() {
    this.seen = new Map();
  }
  debug() {}
  info() {}
  warn(component, message) {
    this.print('warn', component, message);
  }
  error(component, message) {
    this.print('error', component, message);
  }
  print(level, component, message) {
    const key = `${component}: ${message}`.replace(/[0-9a-f]{5,}/g, '#');
    const count = (this.seen.get(key) || 0) + 1;
    this.seen.set(key, count);
    if (count <= 3) {
      process.stderr.write(`rp2040js ${level}: ${component}: ${message}${count === 3 ? ' (further ones not shown)' : ''}\n`);
    }
  }
}

class LineCollector {
  constructor(src, sink) {
    this.src = src;
    this.sink = sink;
    this.bytes = [];
  }
  push(byte) {
    if (byte === 0x0a) {
      this.flush();
    } else if (byte !== 0x0d) {
      this.bytes.push(byte);
      if (this.bytes.length >= 4096) this.flush();
    }
  }
  flush() {
    if (this.bytes.length) {
      this.sink(this.src, Buffer.from(this.bytes).toString('utf8'));
      this.bytes = [];
    }
  }
}

/** Watches a SLIP byte stream and reports each frame's length and first bytes. */
class SlipTap {
  constructor(dir, sink) {
    this.dir = dir;
    this.sink = sink;
    this.head = [];
    this.len = 0;
    this.esc = false;
  }
  push(b) {
    if (b === 0xc0) {
      if (this.len) this.sink({ ev: 'slip', dir: this.dir, len: this.len, head: Buffer.from(this.head).toString('hex') });
      this.head = [];
      this.len = 0;
      this.esc = false;
      return;
    }
    if (this.esc) {
      this.esc = false;
      b = b === 0xdc ? 0xc0 : b === 0xdd ? 0xdb : b;
    } else if (b === 0xdb) {
      this.esc = true;
      return;
    }
    if (this.head.length < 64) this.head.push(b);
    this.len++;
  }
}

/** UART1 joined to a child process (the TUN bridge) speaking SLIP on its stdin/stdout. */
class SlipLine {
  constructor(cmd, board) {
    this.board = board;
    this.rx = []; // bytes from the host, not yet in the UART's FIFO
    this.rxPos = 0;
    this.tx = []; // bytes from the chip, not yet written to the child
    this.up = true;
    this.nextRxNs = 0;
    this.held = 0; // times a byte waited because the receive FIFO was full
    this.lost = 0; // bytes that arrived while UART1 was off
    this.txTap = new SlipTap('tx', (ev) => board.event(this.up ? ev : { ...ev, lost: true }));
    this.rxTap = new SlipTap('rx', (ev) => board.event(ev));
    this.child = spawn('/bin/sh', ['-c', cmd], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdin.on('error', () => {});
    this.child.stdout.on('data', (data) => {
      if (!this.up) return;
      for (const b of data) this.rx.push(b);
      board.wake();
    });
    this.child.on('exit', (code, signal) => {
      this.child = null;
      board.event({ ev: 'error', message: `--slip-cmd ended (code ${code}, signal ${signal})` });
    });
  }
  attach(chip) {
    chip.uart[1].onByte = (b) => {
      this.txTap.push(b); // reported even while the line is cut ("lost": true)
      if (this.up) this.tx.push(b);
    };
  }
  pending() {
    return this.rxPos < this.rx.length;
  }
  /** Moves host bytes into UART1's receive FIFO, one per character time. */
  feed(chip, nowNs) {
    const uart = chip.uart[1];
    while (this.rxPos < this.rx.length && nowNs >= this.nextRxNs) {
      if (!uart.enabled || !uart.rxEnabled) {
        // A UART that is off receives nothing: the byte is lost on the line.
        this.rxPos++;
        this.lost++;
        continue;
      }
      if (uart.rxFIFO.full) {
        // A real UART would overrun and lose the byte; here it waits, and is counted.
        this.held++;
        this.nextRxNs = nowNs + this.byteNs(uart);
        return;
      }
      const b = this.rx[this.rxPos++];
      uart.feedByte(b);
      this.rxTap.push(b);
      // On schedule: the next character follows this one; after a pause: one character time from now.
      const byteNs = this.byteNs(uart);
      this.nextRxNs = (nowNs - this.nextRxNs < byteNs ? this.nextRxNs : nowNs) + byteNs;
    }
    if (this.rxPos >= this.rx.length) {
      this.rx = [];
      this.rxPos = 0;
    } else if (this.rxPos > 65536) {
      this.rx = this.rx.slice(this.rxPos);
      this.rxPos = 0;
    }
  }
  byteNs(uart) {
    const baud = uart.baudDivider ? uart.baudRate : 115200;
    return 1e10 / baud; // 10 bits a character (8N1)
  }
  flush() {
    if (this.tx.length && this.child) {
      this.child.stdin.write(Buffer.from(this.tx));
    }
    this.tx = [];
  }
  setUp(up) {
    this.up = up;
    if (!up) {
      this.rx = [];
      this.rxPos = 0;
      this.tx = [];
    }
  }
  stop() {
    if (this.child) {
      this.child.stdin.end();
      const child = this.child;
      setTimeout(() => child.kill('SIGTERM'), 500).unref();
    }
  }
}

// ---------------------------------------------------------------- the board

class Board {
  constructor(opts, bootrom, flash) {
    this.opts = opts;
    this.bootrom = bootrom;
    this.flash = flash;
    this.baseNs = 0; // simulated time of the current chip's power-up / reset
    this.instr = 0;
    this.cycles = 0;
    this.resets = 0;
    this.external = new Array(30).fill(null); // levels driven from outside
    this.chip = null;
    this.pendingReset = null;
    this.stalled = false;
    this.uart = new LineCollector('uart0', (src, line) => this.log(src, line));
    this.usb = new LineCollector('usb', (src, line) => this.log(src, line));
    this.sleepNs = 0; // simulated time the core spent asleep (WFI/WFE)
    this.aheadNs = 0; // how far simulated time may run ahead of wall time (grows after a cut line)
    this.wake = () => {};
    this.slip = opts.slipCmd ? new SlipLine(opts.slipCmd, this) : null;
    this.start('power_on', new Uint32Array(8), 0);
  }

  get nowNs() {
    return this.baseNs + (this.chip ? this.chip.clock.nanos : 0);
  }

  event(obj) {
    emit({ t_us: Math.floor(this.nowNs / 1000), ...obj });
  }

  log(src, line) {
    this.event({ ev: 'log', src, line });
  }

  /** Builds a chip and starts it at 0x10000000 (power-up or reset). */
  start(cause, scratch, reason) {
    const old = this.chip;
    if (old) {
      this.baseNs += old.clock.nanos;
      for (const pio of old.pio) pio.stop();
      this.uart.flush();
      this.usb.flush();
      this.usb = new LineCollector('usb', (src, line) => this.log(src, line));
    }
    const chip = new RP2040(); // with a simulation clock of its own, from 0
    chip.logger = new StderrLogger();
    chip.loadBootrom(this.bootrom); // resets the chip and erases its flash
    chip.flash.set(this.flash, 0);
    const wd = chip.peripherals[0x40058];
    wd.scratchData.set(scratch);
    wd.reason = reason;
    wd.onWatchdogTrigger = () => {
      // Stop the countdown: rp2040js would re-arm it at once (counter 0 = alarm due now)
      // and spin inside clock.tick; the chip is about to be rebuilt anyway.
      wd.alarm.enable = false;
      wd.timer.enable = false;
      // REASON is set by rp2040js (TIMER for a timeout, FORCE for CTRL.TRIGGER)
      this.requestReset(wd.reason === WATCHDOG_REASON_FORCE ? 'watchdog_force' : 'watchdog', wd.reason);
    };
    // Note each feed (a write to LOAD), for the stall report.
    this.wdLastFeedNs = null;
    this.wdLoad = null;
    const wdWrite = wd.writeUint32.bind(wd);
    wd.writeUint32 = (offset, value) => {
      if (offset === 0x04) {
        this.wdLastFeedNs = this.nowNs;
        this.wdLoad = value & 0xffffff;
      }
      wdWrite(offset, value);
    };
    const ppbWrite = chip.ppb.writeUint32.bind(chip.ppb);
    chip.ppb.writeUint32 = (offset, value) => {
      if (offset === PPB_AIRCR && value >>> 16 === 0x05fa && value & 0x4) {
        this.requestReset('sysresetreq', 0);
      }
      ppbWrite(offset, value);
    };
    chip.uart[0].onByte = (b) => this.uart.push(b);
    if (this.slip) this.slip.attach(chip);
    if (this.opts.paint) {
      const { start, end } = this.opts.paint;
      chip.sram.fill(0xa5, start - 0x20000000, end - 0x20000000);
    }
    this.attachUsbHost(chip);
    this.chip = chip;
    this.stalled = false;
    this.pendingReset = null;
    this.attachGpio(chip);
    chip.core.PC = FLASH_BASE;
    this.event({ ev: 'reset', cause });
  }

  attachUsbHost(chip) {
    const cdc = new USBCDC(chip.usbCtrl);
    const onEnabled = chip.usbCtrl.onUSBEnabled;
    chip.usbCtrl.onUSBEnabled = () => {
      this.event({ ev: 'usb', state: 'enabled' });
      onEnabled();
    };
    // rp2040js's CDC host answers every OUT buffer the device arms at once, with
    // a zero-length packet when it has nothing to send; the device re-arms and
    // the two ping-pong forever (tens of millions of instructions a simulated
    // second in the USB interrupt). A real host NAKs until it has data: hold
    // the armed buffer until usb_send brings some.
    const answerOut = chip.usbCtrl.onEndpointRead;
    this.heldOut = null;
    chip.usbCtrl.onEndpointRead = (endpoint, size) => {
      if (endpoint === cdc.outEndpoint && cdc.txFIFO.itemCount === 0) {
        this.heldOut = { endpoint, size };
        return;
      }
      answerOut(endpoint, size);
    };
    this.answerHeldOut = () => {
      const held = this.heldOut;
      this.heldOut = null;
      if (held) answerOut(held.endpoint, held.size);
    };
    cdc.onDeviceConnected = () => this.event({ ev: 'usb', state: 'connected' });
    cdc.onSerialData = (data) => {
      for (const b of data) this.usb.push(b);
    };
    this.cdc = cdc;
  }

  attachGpio(chip) {
    this.pinState = [];
    chip.gpio.forEach((pin, i) => {
      this.pinState[i] = { out: pin.outputEnable, level: pin.outputValue ? 1 : 0 };
      pin.addListener(() => this.pinChanged(i));
      this.applyInput(i);
    });
  }

  /** Input level of a pin: the output it drives, else the outside level, else its pull. */
  applyInput(i) {
    const pin = this.chip.gpio[i];
    let level;
    if (pin.outputEnable) {
      level = pin.outputValue;
    } else if (this.external[i] !== null) {
      level = !!this.external[i];
    } else if (pin.pullupEnabled && !pin.pulldownEnabled) {
      level = true;
    } else if (pin.pulldownEnabled && !pin.pullupEnabled) {
      level = false;
    } else {
      level = pin.rawInputValue; // floating or bus keeper: keeps its last level
    }
    if (level !== pin.rawInputValue) {
      pin.setInputValue(level);
    }
  }

  pinChanged(i) {
    const pin = this.chip.gpio[i];
    const out = pin.outputEnable;
    const level = pin.outputValue ? 1 : 0;
    const last = this.pinState[i];
    if (out !== last.out || (out && level !== last.level)) {
      this.pinState[i] = { out, level };
      if (this.opts.gpio) this.event({ ev: 'gpio', pin: i, out, level });
    } else {
      last.level = level;
    }
    this.applyInput(i);
  }

  setInput(i, level) {
    this.external[i] = level === null ? null : level ? 1 : 0;
    this.applyInput(i);
  }

  requestReset(cause, reason) {
    if (!this.pendingReset) this.pendingReset = { cause, reason };
  }

  stall() {
    const core = this.chip.core;
    core.PM = true; // interrupts masked: what a core stuck in a critical section looks like
    this.stalled = true;
    const wd = this.chip.peripherals[0x40058];
    this.event({
      ev: 'stalled',
      wd_enabled: wd.enable,
      wd_load: this.wdLoad,
      wd_last_feed_us: this.wdLastFeedNs === null ? null : Math.floor(this.wdLastFeedNs / 1000),
    });
  }

  /** Runs at most maxInstr instructions, stopping at simulated time limitNs. */
  runSlice(maxInstr, limitNs) {
    let n = 0;
    while (n < maxInstr) {
      if (this.pendingReset) {
        const { cause, reason } = this.pendingReset;
        const wd = this.chip.peripherals[0x40058];
        this.resets++;
        this.start(cause, wd.scratchData.slice(), reason);
        continue;
      }
      const chip = this.chip;
      const clock = chip.clock;
      const remaining = limitNs - this.nowNs;
      if (remaining <= 0) break;
      const core = chip.core;
      const slip = this.slip;
      if (slip && slip.pending()) {
        const now = this.nowNs;
        if (now >= slip.nextRxNs) slip.feed(chip, now);
      }
      if (this.stalled || core.waiting) {
        // Asleep (WFI/WFE) or parked: jump to the next thing that happens.
        let next = clock.nextAlarm ? clock.nanosToNextAlarm : remaining;
        if (slip && slip.pending()) next = Math.min(next, Math.max(0, slip.nextRxNs - this.nowNs));
        const jump = Math.max(0, Math.min(next, remaining));
        clock.tick(jump);
        if (!this.stalled) this.sleepNs += jump;
        n += 16; // bounded work per slice even when alarms come thick
        continue;
      }
      const c = core.executeInstruction();
      this.instr++;
      this.cycles += c;
      n++;
      clock.tick((c * 1e9) / chip.clkSys);
    }
  }

  read(addr, len) {
    const off = addr - 0x20000000;
    if (!Number.isInteger(addr) || !Number.isInteger(len) || len <= 0 || len > 270336 || off < 0 ||
        off + len > this.chip.sram.length) {
      this.event({ ev: 'error', message: 'read needs addr and len inside SRAM 0x20000000..0x20042000' });
      return;
    }
    this.event({ ev: 'mem', addr, hex: Buffer.from(this.chip.sram.subarray(off, off + len)).toString('hex') });
  }

  pins() {
    const pull = (p) => (p.pullupEnabled ? (p.pulldownEnabled ? 'keeper' : 'up') : p.pulldownEnabled ? 'down' : 'none');
    this.event({
      ev: 'pins',
      pins: this.chip.gpio.map((p, i) => ({
        pin: i,
        func: p.functionSelect,
        out: p.outputEnable,
        level: p.outputValue ? 1 : 0,
        in: p.inputValue ? 1 : 0,
        pull: pull(p),
        external: this.external[i],
      })),
    });
  }

  stats() {
    this.event({
      ev: 'stats',
      instr: this.instr,
      cycles: this.cycles,
      resets: this.resets,
      asleep_us: Math.floor(this.sleepNs / 1000),
      uart1_rx_held: this.slip ? this.slip.held : 0,
      uart1_rx_lost_off: this.slip ? this.slip.lost : 0,
      clk_sys_hz: this.chip.clkSys,
      stalled: this.stalled,
      wall_s: Number(((performance.now() - startWall) / 1000).toFixed(3)),
    });
  }
}

// ---------------------------------------------------------------- main loop

const startWall = performance.now();

function usage() {
  return readFileSync(fileURLToPath(import.meta.url), 'utf8')
    .split('\n')
    .slice(1, 80)
    .filter((l, i, all) => l.startsWith('//') && all.slice(0, i).every((p) => p.startsWith('//')))
    .map((l) => l.replace(/^\/\/ ?/, ''))
    .join('\n');
}

function main() {
  let opts;
  let board;
  try {
    opts = parseArgs(process.argv.slice(2));
    if (opts.help) {
      process.stdout.write(usage() + '\n');
      return;
    }
    const bootromFile = opts.bootrom || defaultBootrom();
    const bootrom = loadBootrom(bootromFile);
    const flash = buildFlash(opts);
    board = new Board(opts, bootrom, flash);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`emu/run.mjs: ${err.message}\n`);
      emit({ ev: 'error', message: err.message });
      process.exit(2);
    }
    throw err;
  }

  let targetNs = opts.wait ? 0 : opts.untilMs !== null ? opts.untilMs * 1e6 : Infinity;
  let pausedReported = true;
  let quitting = false;
  let scheduled = false;

  const finish = (code, extra = {}) => {
    if (quitting) return;
    quitting = true;
    board.uart.flush();
    board.usb.flush();
    board.stats();
    if (board.slip) board.slip.stop();
    board.event({ ev: 'exit', code, ...extra });
    process.exit(code);
  };

  let wallTimer = null;
  const waitWall = (ms) => {
    if (!wallTimer && !quitting) {
      wallTimer = setTimeout(() => {
        wallTimer = null;
        schedule();
      }, ms);
    }
  };
  board.wake = () => {
    if (wallTimer) {
      clearTimeout(wallTimer);
      wallTimer = null;
    }
    schedule();
  };

  const schedule = () => {
    if (!scheduled && !quitting) {
      scheduled = true;
      setImmediate(loop);
    }
  };

  function loop() {
    scheduled = false;
    if (quitting) return;
    if (opts.maxWallS !== null && performance.now() - startWall > opts.maxWallS * 1000) {
      finish(3, { why: `wall-time limit of ${opts.maxWallS} s reached` });
      return;
    }
    if (board.nowNs < targetNs) {
      pausedReported = false;
      let limitNs = targetNs;
      if (opts.realtime && (!board.slip || board.slip.up)) {
        limitNs = Math.min(targetNs, (performance.now() - startWall) * 1e6 + board.aheadNs);
        if (board.nowNs >= limitNs) {
          // Ahead of wall time: wait for it (or for bytes from the network).
          if (board.slip) board.slip.flush();
          waitWall(Math.min(2, (board.nowNs - limitNs) / 1e6 + 0.2));
          return;
        }
      }
      board.runSlice(opts.slice, limitNs);
      if (board.slip) board.slip.flush();
      schedule();
      return;
    }
    if (board.slip) board.slip.flush();
    if (!pausedReported) {
      pausedReported = true;
      board.event({ ev: 'paused' });
      if (!opts.wait && opts.untilMs !== null) finish(0);
    }
    // Commands wait while the chip runs toward a target: a "run" holds the ones after it.
    while (queue.length && board.nowNs >= targetNs && !quitting) {
      command(queue.shift());
    }
    if (!queue.length && stdinClosed && board.nowNs >= targetNs) finish(0, { why: 'stdin closed' });
    if (board.nowNs < targetNs) schedule();
  }

  function command(line) {
    line = line.trim();
    if (!line) return;
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch {
      board.event({ ev: 'error', message: `not JSON: ${line.slice(0, 80)}` });
      return;
    }
    switch (cmd.cmd) {
      case 'run': {
        const ms = Number(cmd.until_ms);
        if (!Number.isFinite(ms) || ms < 0) {
          board.event({ ev: 'error', message: 'run needs until_ms >= 0' });
          return;
        }
        targetNs = ms * 1e6;
        pausedReported = false;
        if (board.nowNs >= targetNs) {
          // already there: say so at once
          pausedReported = true;
          board.event({ ev: 'paused' });
        }
        return;
      }
      case 'input': {
        const pin = cmd.pin;
        if (!Number.isInteger(pin) || pin < 0 || pin > 29 || ![0, 1, null].includes(cmd.level)) {
          board.event({ ev: 'error', message: 'input needs pin 0..29 and level 0, 1 or null' });
          return;
        }
        board.setInput(pin, cmd.level);
        return;
      }
      case 'stats':
        board.stats();
        return;
      case 'pins':
        board.pins();
        return;
      case 'stall':
        board.stall();
        return;
      case 'uart_send':
      case 'usb_send': {
        if (typeof cmd.data !== 'string') {
          board.event({ ev: 'error', message: `${cmd.cmd} needs data` });
          return;
        }
        for (const b of Buffer.from(cmd.data, 'utf8')) {
          if (cmd.cmd === 'uart_send') board.chip.uart[0].feedByte(b);
          else board.cdc.sendSerialByte(b);
        }
        if (cmd.cmd === 'usb_send') board.answerHeldOut();
        return;
      }
      case 'link': {
        if (!board.slip || typeof cmd.up !== 'boolean') {
          board.event({ ev: 'error', message: 'link needs --slip-cmd and up true or false' });
          return;
        }
        board.slip.setUp(cmd.up);
        // While the line is cut nothing crosses it, so the chip may run ahead
        // of wall time; once it is back, pacing resumes from where the chip is.
        if (cmd.up) board.aheadNs = Math.max(board.aheadNs, board.nowNs - (performance.now() - startWall) * 1e6);
        board.event({ ev: 'link', up: cmd.up });
        return;
      }
      case 'read':
        board.read(cmd.addr, cmd.len);
        return;
      case 'quit':
        finish(0);
        return;
      default:
        board.event({ ev: 'error', message: `unknown command ${JSON.stringify(cmd.cmd)}` });
    }
  }

  const queue = [];
  let stdinClosed = false;
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    queue.push(line);
    schedule();
  });
  rl.on('close', () => {
    if (opts.wait) {
      stdinClosed = true;
      schedule();
    }
  });
  if (opts.maxWallS !== null) {
    setTimeout(() => finish(3, { why: `wall-time limit of ${opts.maxWallS} s reached` }), opts.maxWallS * 1000).unref();
  }
  schedule();
}

main();
