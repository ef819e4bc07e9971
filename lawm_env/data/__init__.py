"""Data: the synthetic physics suite, dm-control pixel collection, sharded storage and a window dataset."""
