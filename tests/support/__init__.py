"""What the tests and the benchmarks share: the S3 server, one loopback proxy (a slow
uplink, faults, a slow thaw), a tmpfs, the browser and the project builders. Plain code,
no fixtures: `bench/` imports it too."""
