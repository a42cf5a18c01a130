"""Sphinx settings of the course's website (built by `make site`: src/sidebyside/instructor/site.py
writes the sources this reads). Nothing here may make a page load from the network."""

from docutils import nodes
from sphinx.transforms import SphinxTransform

project = "Side by Side: PyTorch and TensorFlow, together"
author = "The Side by Side course"
copyright = "MIT for the code; lessons CC BY 4.0"
extensions = ["myst_nb"]

# myst-nb shows the outputs the build put into the notebooks: it never executes a lesson.
nb_execution_mode = "off"
# No widget manager from a CDN: live outputs are pictures (see site.py).
nb_ipywidgets_js = {}
nb_merge_streams = True
myst_enable_extensions = ["dollarmath"]
# MathJax from the site's own _static/ (site.py vendors it from the npm registry).
mathjax_path = "mathjax/tex-chtml.js"
exclude_patterns = ["_notebooks", "**/.ipynb_checkpoints"]
# Colab-only cells hold shell escapes (!apt-get), which the Python lexer cannot colour: shown plain.
suppress_warnings = ["mystnb.unknown_mime_type", "misc.highlighting_failure"]

html_theme = "sphinx_book_theme"
html_title = "Side by Side"
html_static_path = ["_static"]
html_css_files = ["sidebyside.css"]
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": False,  # the page's own link downloads the clean notebook
    "use_fullscreen_button": False,
    "use_repository_button": False,
}
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False


class PairTheFrameworks(SphinxTransform):
    """Put each PyTorch cell and the TensorFlow cell right after it into one block, which the
    stylesheet shows side by side (stacked on narrow screens), as the course teaches them."""

    default_priority = 900

    def apply(self):
        for container in list(self.document.findall(nodes.container)):
            if "tag_pytorch" not in container["classes"] or container.parent is None:
                continue
            parent = container.parent
            index = parent.index(container)
            after = parent[index + 1] if index + 1 < len(parent) else None
            if not isinstance(after, nodes.container) or "tag_tensorflow" not in after["classes"]:
                continue
            pair = nodes.container(classes=["sbs-pair"])
            parent.replace(container, pair)
            parent.remove(after)
            pair += [container, after]


def setup(app):
    app.add_transform(PairTheFrameworks)
