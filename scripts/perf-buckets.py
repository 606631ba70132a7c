"""Where the service's CPU goes beyond the floor's, by kind: `scripts/bench profile`'s table.

Reads two `perf script -F ip,sym` outputs (the service's and the floor's `perf record -e task-clock
--call-graph fp` of the same number of requests, from builds with frame pointers) and puts every
sample in one bucket by its stack: a kernel sample by the system call it serves (the first user
frame below it), a user-space sample by the innermost frame that belongs to a known crate or module
(so an inlined `memcpy` or `malloc` counts where it was called from). Prints each bucket's samples
on both sides and the difference as a share of the floor's samples, largest first.

usage: python3 scripts/perf-buckets.py SERVICE.txt FLOOR.txt
"""

import collections
import sys

# Innermost matching frame first; the first prefix that matches names the bucket.
CRATES = [
    ("livechat_rooms::render", "rendering"),
    ("livechat_rooms::jsdate", "rendering"),
    ("livechat_rooms::js::", "rendering"),
    ("livechat_rooms::metrics", "metrics"),
    ("prometheus", "metrics"),
    ("sketches_ddsketch", "metrics"),
    ("livechat_rooms::routes::livechat_rooms", "the handler's futures (inlined)"),
    ("<tokio::time::timeout::Timeout", "the handler's futures (inlined)"),
    ("livechat_rooms::", "parameters, filter, guard, body, caches"),
    ("<livechat_rooms::", "parameters, filter, guard, body, caches"),
    ("sha2", "parameters, filter, guard, body, caches"),
    ("floor::", "the floor's own loop (Db and repo code inlined)"),
    ("mongodb::", "the driver (mongodb, bson)"),
    ("<mongodb", "the driver (mongodb, bson)"),
    ("bson::", "the driver (mongodb, bson)"),
    ("<bson", "the driver (mongodb, bson)"),
    ("actix", "actix-web, actix-http"),
    ("<actix", "actix-web, actix-http"),
    ("httparse", "actix-web, actix-http"),
    ("http::", "actix-web, actix-http"),
    ("<http::", "actix-web, actix-http"),
    ("tokio", "tokio: tasks, wake-ups, timers, I/O"),
    ("<tokio", "tokio: tasks, wake-ups, timers, I/O"),
    ("mio::", "tokio: tasks, wake-ups, timers, I/O"),
    ("<mio", "tokio: tasks, wake-ups, timers, I/O"),
]
SYSCALLS = {
    "__send": "kernel: sendto",
    "__libc_send": "kernel: sendto",
    "__libc_sendto": "kernel: sendto",
    "__libc_recv": "kernel: recvfrom",
    "__libc_recvfrom": "kernel: recvfrom",
    "epoll_wait": "kernel: epoll_wait (sleeping and waking)",
}


def samples(path):
    """Each sample's stack, innermost first, as (is_kernel, symbol)."""
    stack = []
    with open(path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            fields = line.split(None, 1)
            if not fields:
                if stack:
                    yield stack
                stack = []
                continue
            symbol = fields[1].strip() if len(fields) > 1 else "?"
            stack.append((fields[0].startswith("ffffffff"), symbol))
    if stack:
        yield stack


def bucket(stack):
    if stack[0][0]:
        user = [symbol for kernel, symbol in stack if not kernel]
        return SYSCALLS.get(user[0] if user else "", "kernel: interrupts, scheduling, other")
    for _, symbol in stack:
        for prefix, name in CRATES:
            if symbol.startswith(prefix):
                return name
    return "glibc and the rest, called from no known crate"


def main(service_path, floor_path):
    service = collections.Counter(bucket(s) for s in samples(service_path))
    floor = collections.Counter(bucket(s) for s in samples(floor_path))
    total = sum(floor.values())
    if not total:
        sys.exit("no samples in " + floor_path)
    rows = sorted(set(service) | set(floor), key=lambda b: floor[b] - service[b])
    print("| where | service | floor | difference, % of the floor |")
    print("| --- | --- | --- | --- |")
    for name in rows:
        share = 100 * (service[name] - floor[name]) / total
        print(f"| {name} | {service[name]} | {floor[name]} | {share:.1f} |")
    all_service = sum(service.values())
    print(f"| total | {all_service} | {total} | {100 * (all_service - total) / total:.1f} |")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(sys.argv[1], sys.argv[2])
