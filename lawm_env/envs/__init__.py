"""LaWM-v0 (registered on ``import lawm_env``), its native vector env, the SB3 adapter and the real-env wrapper."""
