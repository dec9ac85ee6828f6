"""The core of the F1 prediction dashboard: the store, ingestion, features, models and the
questions the pages ask. Importable and testable without Streamlit."""
import os

# LightGBM keeps one OpenMP thread count for the whole process, and a call that does not name its
# own (building a Dataset, a prediction) sets it back to OpenMP's default. With models trained
# side by side (`training.in_parallel`), or a retrain in the background while a page predicts, a
# count changing under another thread's call crashed the process: a stress run of boosters built
# while others predicted segfaulted in 3 of 4 runs of 40 s, and in none of 6 with this line. Every
# model here runs on one thread, so OpenMP's default is one too; it must be set before OpenMP
# starts, which is when LightGBM is first imported (always after this package).
os.environ["OMP_NUM_THREADS"] = "1"
