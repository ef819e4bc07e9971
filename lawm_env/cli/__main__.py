"""``python -m lawm_env.cli`` runs the ``lawm`` command (used by torchrun)."""

from lawm_env.cli import main

if __name__ == "__main__":
    main()
