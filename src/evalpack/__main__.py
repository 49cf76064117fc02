from evalpack.cli import main

raise SystemExit(main())
