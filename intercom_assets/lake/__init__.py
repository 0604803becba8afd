"""The lake on disk: staging, the Parquet layout and atomic writes, the IO manager (no HTTP)."""
