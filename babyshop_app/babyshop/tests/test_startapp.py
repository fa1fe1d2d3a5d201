"""`make manage ARGS="startapp notes"`: an app that make lint accepts as it is made."""

import ast

from django.core.management import call_command

# Not the README's "notes": startapp refuses a name an app of the project has.
APP = "made_by_startapp"


def test_startapp_makes_code_without_unused_imports_or_single_quotes(tmp_path):
    call_command("startapp", APP, str(tmp_path), verbosity=0)
    made = {path.relative_to(tmp_path).as_posix(): path.read_text() for path in tmp_path.rglob("*.py")}
    assert sorted(made) == [
        "__init__.py", "admin.py", "apps.py", "migrations/__init__.py", "models.py", "tests.py", "views.py",
    ]  # fmt: skip
    assert f'name = "{APP}"' in made["apps.py"]
    for name, text in made.items():
        tree = ast.parse(text)
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom | ast.Import)
            for alias in node.names
        }
        used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert imported <= used, name
