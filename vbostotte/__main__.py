from vbostotte.cli import main

raise SystemExit(main())
