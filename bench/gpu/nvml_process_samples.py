#!/usr/bin/env python3
"""Prints NVML's per-process utilisation samples of GPU 0 as the driver hands them out, beside its
device utilisation (what share calibration reads, src/isolation/hook/device_busy.cc): how often a
process gets a sample, whether samples of different processes share timestamps, how noisy one
second is. On the H200 they showed why calibration does not use the per-process figures.

  nvml_process_samples.py SECONDS [INTERVAL_S]     (reads libnvidia-ml.so.1; changes nothing)

Each poll prints "poll <t> device <gpu%>" and one "sample <pid> <timestamp_us> <sm%>" per new
sample; at the end a summary per process: samples, mean SM %, mean per poll.
"""
import ctypes
import sys
import time


class Sample(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint), ("timeStamp", ctypes.c_ulonglong), ("smUtil", ctypes.c_uint),
                ("memUtil", ctypes.c_uint), ("encUtil", ctypes.c_uint), ("decUtil", ctypes.c_uint)]


class Rates(ctypes.Structure):
    _fields_ = [("gpu", ctypes.c_uint), ("memory", ctypes.c_uint)]


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    nvml = ctypes.CDLL("libnvidia-ml.so.1")
    if nvml.nvmlInit_v2() != 0:
        print("nvmlInit failed")
        return 1
    handle = ctypes.c_void_p()
    nvml.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(handle))
    last_seen = 0
    per_pid = {}
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        time.sleep(interval)
        samples = (Sample * 256)()
        count = ctypes.c_uint(256)
        result = nvml.nvmlDeviceGetProcessUtilization(handle, samples, ctypes.byref(count),
                                                      ctypes.c_ulonglong(last_seen))
        rates = Rates()
        nvml.nvmlDeviceGetUtilizationRates(handle, ctypes.byref(rates))
        now = time.monotonic() - start
        print(f"poll {now:.3f} device {rates.gpu}% result {result} count {count.value if result == 0 else 0}")
        if result != 0:
            continue
        newest = last_seen
        for s in samples[:count.value]:
            newest = max(newest, s.timeStamp)
            if s.timeStamp <= last_seen:
                continue
            print(f"sample {s.pid} {s.timeStamp} {s.smUtil}")
            per_pid.setdefault(s.pid, []).append(s.smUtil)
        last_seen = newest
    polls = max(int(seconds / interval), 1)
    for pid, values in sorted(per_pid.items()):
        print(f"summary pid {pid}: {len(values)} samples, mean {sum(values) / len(values):.1f}%, "
              f"sum per poll {sum(values) / polls:.1f}")
    nvml.nvmlShutdown()
    return 0


sys.exit(main())
