# Runs first on every reset. Keep it minimal: a mistake here makes the board hard to reach.
import gc

gc.collect()
