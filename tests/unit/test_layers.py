"""The domain imports the standard library only, checked over the whole import graph (.importlinter names the
third-party libraries it knows; this catches one added later)."""
import sys

import grimp


def test_the_domain_imports_the_standard_library_only():
    graph = grimp.build_graph("webapp", include_external_packages=True)
    domain = graph.find_descendants("webapp.domain") | {"webapp.domain"}
    assert len(domain) > 5
    outside = sorted((module, imported) for module in domain for imported in graph.find_modules_directly_imported_by(module)
                     if imported not in domain and imported.split(".")[0] not in sys.stdlib_module_names)
    assert outside == []
