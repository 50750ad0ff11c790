"""``python -m imu_tempo`` runs the command line."""

from .cli import main

raise SystemExit(main())
