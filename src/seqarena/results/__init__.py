"""The results layer: typed records (records.py), the SQLite store that reads and writes them (store.py), and the
statistics over them (statistics.py). It imports neither multiprocessing nor Ray."""
