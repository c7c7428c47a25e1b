#!/usr/bin/env python3
"""A model, not a measurement: bench/gpu/isolation.sh's check (c) in hook mode on a GPU that
time-slices two contexts round-robin, to see which way of charging kernels keeps 30:70.

Two processes (30% and 70%) run isolation_probe's loop (4 launches of a 5 ms kernel, then a
sync) through a model of the hook's throttle: token bucket with a 20 ms burst, one timed launch
in 16, cost = shortest of the last 8 timings, contended timings only lower it (activity boards),
and optionally the share calibration (charges scaled each window by the GPU time the process
really got over what it was charged, as NVML's per-process utilisation reports it). The GPU runs
one context at a time for a quantum, paying a switch cost between contexts.

It was written when an H200 run showed 42.9 vs 135.6 kernels/s (ratio 0.316; the 30% process was
charged 7.0 ms per 5 ms kernel): without boards the model gives that at a quantum of 2-4 ms,
boards alone do not fix it there (no clean timing beside a busy 70% neighbour), calibration does.

  bench/gpu/timeslice_model.py                 # the sweep (about 20 s)
  bench/gpu/timeslice_model.py 2 50 1 15 1000  # quantum ms, switch us, boards 0/1, seconds,
                                               # calibration window ms (0: none)
"""

import sys

US = 1000
MS = 1000 * US


class Gpu:
    def __init__(self, quantum, switch):
        self.quantum, self.switch = quantum, switch
        self.procs = []
        self.running = None  # proc index
        self.last_ctx = None
        self.slice_end = 0
        self.switch_left = 0

    def has_work(self, i):
        return self.procs[i].queue

    def step(self, t, dt):
        left = dt
        now = t
        while left > 0:
            if self.switch_left > 0:
                d = min(left, self.switch_left)
                self.switch_left -= d
                left -= d
                now += d
                continue
            ready = [i for i in range(len(self.procs)) if self.has_work(i)]
            if not ready:
                return
            r = self.running
            if r is None or not self.has_work(r) or (now >= self.slice_end and len(ready) > 1):
                # round robin to the next ready process after r
                order = sorted(ready, key=lambda i: ((i - (r if r is not None else -1) - 1) % len(self.procs)))
                nxt = order[0]
                if r is not None and self.has_work(r) and len(ready) > 1 and nxt == r:
                    nxt = order[1]
                self.running = nxt
                self.slice_end = now + self.quantum
                if self.last_ctx is not None and self.last_ctx != nxt:
                    self.switch_left = self.switch
                    self.last_ctx = nxt
                    continue
                self.last_ctx = nxt
            p = self.procs[self.running]
            if len(ready) == 1:
                self.slice_end = max(self.slice_end, now + self.quantum)  # alone: slice renews
            run = min(left, p.queue[0][1], max(self.slice_end - now, 1) if len(ready) > 1 else left)
            p.queue[0][1] -= run
            left -= run
            now += run
            p.gpu_time += run
            if p.queue[0][1] <= 0:
                seq = p.queue.pop(0)[0]
                p.done_seq = seq
                p.done_at[seq] = now


class Proc:
    def __init__(self, name, pct, kernel_ns, boards, gpu, idx, params):
        self.name, self.pct, self.kernel_ns = name, pct, kernel_ns
        self.boards = boards
        self.gpu, self.idx = gpu, idx
        self.queue = []  # [seq, remaining]
        self.seq = 0
        self.done_seq = 0
        self.done_at = {0: 0}
        self.gpu_time = 0
        # hook state
        self.tokens = 20 * MS * pct // 100
        self.refill_at = 0
        self.recent = []
        self.cost = 0
        self.average = 20 * US
        self.launch_number = 0
        self.pending = None
        self.queue_end = 0
        self.posted = 0
        self.queue_since = 0
        self.cur = (0, 0)
        self.last = (0, 0)
        self.kernels = 0
        self.charged = []
        self.params = params
        self.m = 1.0
        self.win_gpu = 0
        self.win_start = 0
        self.waited = False
        self.win_charged = 0

    # --- GPU side
    def enqueue(self, now):
        self.seq += 1
        self.queue.append([self.seq, self.kernel_ns])
        return self.seq

    def event(self, now):  # event recorded after all queued work
        return (self.seq, now)

    def event_done(self, ev):
        return self.done_seq >= ev[0]

    def event_time(self, ev):
        return max(ev[1], self.done_at.get(ev[0], 0))

    # --- hook side
    def estimate(self):
        return (self.cost, True) if self.cost > 0 else (self.average, False)

    def add_sample(self, measured, contenders):
        est = self.cost
        if contenders > 0 and est > 0 and measured >= est:
            return
        if contenders == 0 or measured < self.average:
            self.average = (self.average * 7 + measured) // 8
        self.recent.append(measured)
        self.recent = self.recent[-8:]
        self.cost = min(self.recent)

    def take_tokens(self, cost, now):
        burst = 20 * MS * self.pct // 100
        if now > self.refill_at:
            earned = min(now - self.refill_at, 1000 * MS) * self.pct // 100
            self.refill_at = now
            self.tokens = min(self.tokens + earned, burst)
        self.tokens -= cost
        return 0 if self.tokens >= 0 else -self.tokens * 100 // self.pct

    def note_launch(self, cost, now):
        if not self.boards:
            return
        if self.posted < now:
            self.queue_since = now
        nxt = min(max(self.queue_end, now) + cost, now + 5000 * MS)
        self.queue_end = nxt
        busy_until = now + (nxt - now) * self.params.get('stretch', 2)
        if busy_until > self.posted:
            post = busy_until + self.params.get('slack', 5 * MS)
            self.posted = post
            if self.cur[0] != self.queue_since:
                self.last = self.cur
            self.cur = (self.queue_since, post)

    def contenders(self, since, until):
        n = 0
        for q in self.others:
            if not q.boards:
                continue
            if any(s < until and u > since for (s, u) in (q.cur, q.last)):
                n += 1
        return n

    def finish_sample(self, now):
        p = self.pending
        measured = self.event_time(p['end']) - self.event_time(p['start'])
        backlog = max(p['queue_end'] - p['since'], 0)
        c = self.contenders(p['since'], p['since'] + 2 * backlog + measured) if self.boards else 0
        self.add_sample(measured, c)
        if p['settle']:
            owed = self.estimate()[0] * p['launches']
            self.take_tokens(owed - p['charged'], now)
        self.pending = None

    def feedback(self, now):
        fb = self.params.get('feedback', 0)
        if not fb or now - self.win_start < fb: return
        share = (self.gpu_time - self.win_gpu) / (now - self.win_start)
        charged = self.win_charged / (now - self.win_start)
        if charged > 0.05 and share > 0:
            self.m *= (share / charged) ** self.params.get('gain', 0.5)
            self.m = min(max(self.m, 0.25), 4)
        self.win_gpu, self.win_start, self.win_charged = self.gpu_time, now, 0

    def run(self, sim):
        """Generator: yields ('until', time) or ('cond', fn, deadline)."""
        while True:
            for _ in range(4):
                self.launch_number += 1
                n = self.launch_number
                poll = self.pending is not None and (self.pending['settle'] or n % 16 == 0)
                cost, sampled = self.estimate()
                unknown = not sampled
                first = unknown
                sample = self.pending is None and (unknown or n % 16 == 0)
                if poll and self.event_done(self.pending['end']):
                    self.finish_sample(sim.t)
                    cost = self.estimate()[0]
                self.feedback(sim.t)
                self.win_charged += int(cost * self.m)
                wait = min(self.take_tokens(int(cost * self.m), sim.t), 1000 * MS)
                if wait > 0: self.waited = True
                if wait > 0:
                    yield ('until', sim.t + wait)
                if self.pending is not None and self.pending['settle']:
                    self.pending['charged'] += cost
                    self.pending['launches'] += 1
                if sample:
                    start = self.event(sim.t)
                    since = sim.t
                    qe = self.queue_end
                self.enqueue(sim.t)
                self.charged.append(cost)
                if sample:
                    self.pending = dict(start=start, end=self.event(sim.t), since=since, queue_end=qe,
                                        settle=False, charged=0, launches=0)
                    if first:
                        self.pending.update(settle=True, charged=cost, launches=1)
                        deadline = sim.t + 50 * MS
                        yield ('cond', lambda: self.event_done(self.pending['end']), deadline)
                        if self.event_done(self.pending['end']):
                            self.finish_sample(sim.t)
                            cost = self.estimate()[0]
                self.note_launch(cost, sim.t)
            last = self.seq
            yield ('cond', lambda: self.done_seq >= last, None)
            self.kernels += 4


class Sim:
    def __init__(self, quantum, switch, boards, seconds, kernel_ns, params):
        self.t = 0
        self.gpu = Gpu(quantum, switch)
        self.procs = [Proc('30', 30, kernel_ns, boards, self.gpu, 0, params),
                      Proc('70', 70, kernel_ns, boards, self.gpu, 1, params)]
        for p in self.procs:
            p.others = [q for q in self.procs if q is not p]
        self.gpu.procs = self.procs
        self.seconds = seconds

    def go(self, dt=20 * US):
        gens = [p.run(self) for p in self.procs]
        waits = [next(g) for g in gens]
        end = self.seconds * 1000 * MS
        while self.t < end:
            self.gpu.step(self.t, dt)
            self.t += dt
            for i, g in enumerate(gens):
                w = waits[i]
                ready = (w[0] == 'until' and self.t >= w[1]) or (
                    w[0] == 'cond' and (w[1]() or (w[2] is not None and self.t >= w[2])))
                if ready:
                    waits[i] = next(g)
        r = [p.kernels / self.seconds for p in self.procs]
        return r


def run(quantum_ms, switch_us, boards, seconds, window_ms):
    sim = Sim(int(quantum_ms * MS), int(switch_us * US), boards, seconds, 5 * MS,
              {'feedback': int(window_ms * MS)})
    r30, r70 = sim.go()
    c30 = sim.procs[0].charged[len(sim.procs[0].charged) // 2:]
    factor30 = sim.procs[0].m
    return r30, r70, sum(c30) / len(c30) / MS * factor30


def main():
    if len(sys.argv) > 1:
        q, s, b, secs = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == '1', float(sys.argv[4])
        window = float(sys.argv[5]) if len(sys.argv) > 5 else 0
        r30, r70, c30 = run(q, s, b, secs, window)
        print(f"{r30:.1f} vs {r70:.1f} kernels/s, ratio {r30 / r70:.3f}, 30% charged {c30:.2f} ms")
        return
    print("| quantum | switch | charging | 30% | 70% | ratio (0.386..0.471) | 30% charged per 5 ms kernel |")
    print("|---|---|---|---|---|---|---|")
    for q in (1, 2, 4, 8):
        for name, boards, window in (("timings", False, 0), ("+ boards", True, 0),
                                     ("+ boards + calibration", True, 1000)):
            r30, r70, c30 = run(q, 50, boards, 15, window)
            print(f"| {q} ms | 50 us | {name} | {r30:.1f} | {r70:.1f} | {r30 / r70:.3f} | {c30:.2f} ms |")


main()
