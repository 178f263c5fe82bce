from fer_core.cli import main

raise SystemExit(main())
