"""The thin shared base: settings, database, migrations, clock."""
