"""The space left on the stack's volumes, for Prometheus: the disk-exporter
service of docker-compose.monitoring.yml runs

    python -m babyshop.volume_metrics PORT DIRECTORY...

and serves on PORT, for each DIRECTORY (a volume mounted there read-only,
named by the directory's name), babyshop_volume_size_bytes and
babyshop_volume_free_bytes, read at each scrape. It needs no settings and
reads no file of the volumes: only the file system's figures (statvfs).
"""

import os
import signal
import sys
from pathlib import Path

from prometheus_client import REGISTRY, start_http_server
from prometheus_client.core import GaugeMetricFamily


class VolumeCollector:
    def __init__(self, directories):
        self.directories = [Path(directory) for directory in directories]

    def collect(self):
        size = GaugeMetricFamily(
            "babyshop_volume_size_bytes", "Size of the volume's file system.", labels=["volume"]
        )
        free = GaugeMetricFamily(
            "babyshop_volume_free_bytes",
            "Space an unprivileged process can still write on the volume's file system.",
            labels=["volume"],
        )
        for directory in self.directories:
            figures = os.statvfs(directory)
            size.add_metric([directory.name], figures.f_blocks * figures.f_frsize)
            free.add_metric([directory.name], figures.f_bavail * figures.f_frsize)
        yield size
        yield free


def main(port, *directories):
    for directory in directories:
        if not Path(directory).is_dir():
            sys.exit(f"volume_metrics: {directory} is not a directory: expected a volume mounted there")
    stops = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)  # (the server's thread too): taken by sigwait
    REGISTRY.register(VolumeCollector(directories))
    start_http_server(int(port))
    signal.sigwait(stops)


if __name__ == "__main__":
    if len(sys.argv) < 3 or not sys.argv[1].isdigit():
        sys.exit("usage: python -m babyshop.volume_metrics PORT DIRECTORY...")
    main(*sys.argv[1:])
