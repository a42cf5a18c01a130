"""The lessons quote the source article faithfully (issue 12 §1).

The article this course grew from, "PyTorch vs TensorFlow : comparaison approfondie", is kept in
French, exactly as it was received, in ``../shared/source-article/`` (beside this checkout, on
the course's own machines and CI; students' machines do not have it, and the tests that read
it skip there). It reads as a machine translation of an English original, so some tool names
came out translated; ``TABLE`` and ``QUOTES`` below hold the faithful English the lessons use,
with those names restored (Chalumeau = TorchServe, Serveur TensorFlow = TensorFlow Serving,
Mode impatient = eager mode, Théano = Theano, Torche = Torch).

- Lesson 00 quotes the article's overview table: its header says TensorFlow 2.0, it has the
  article's rows in the article's order, and each cell holds the translation stored here. The
  translation is checked both ways: every French cell of the article is in ``TABLE`` (so a
  change to the article's table fails here), and every English text is in the lesson's table.
- Every quotation of the article in a lesson is traceable: each English quote in ``QUOTES`` is
  in some lesson and its French original is in the article, and every quoted text ("..." or
  “...”) in a lesson paragraph that mentions the article is one of the stored translations.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, lessons, rel

ARTICLE = ROOT.parent / "shared" / "source-article" / "pytorch-vs-tensorflow.fr.txt"
LESSON_00 = ROOT / "lessons" / "00-welcome.ipynb"

#: Every cell of the article's overview table (header included), French -> faithful English.
TABLE = {
    "Bibliothèque": "Library",
    "PyTorch": "PyTorch",
    "TensorFlow 2.0": "TensorFlow 2.0",
    "Créé par": "Created by",
    "FAIR Lab (Facebook AI Research Lab)": "FAIR Lab (Facebook AI Research Lab)",
    "Équipe Google Brain": "Google Brain team",
    "Basé sur": "Based on",
    "Torche": "Torch",
    "Théano": "Theano",
    "Production": "Production",
    "axé sur la recherche": "research-focused",
    "Concentré sur l'industrie": "industry-focused",
    "Visualisation": "Visualization",
    "Visdom": "Visdom",
    "Tensorboard": "TensorBoard",
    "Déploiement": "Deployment",
    "Chalumeau (expérimental)": "TorchServe (experimental)",
    "Serveur TensorFlow": "TensorFlow Serving",
    "Déploiement mobile": "Mobile deployment",
    "Oui (expérimental)": "Yes (experimental)",
    "Oui": "Yes",
    "Gestion des appareils": "Device management",
    "CUDA": "CUDA",
    "Automatisé": "Automated",
    "Génération de graphes": "Graph generation",
    "Mode dynamique et statique": "Dynamic and static mode",
    "Mode impatient et statique": "Eager and static mode",
    "Courbe d'apprentissage": "Learning curve",
    "Plus facile pour les développeurs et les scientifiques": "Easier for developers and scientists",
    "Plus facile pour les projets au niveau de l'industrie": "Easier for industry-level projects",
    "U ces cas": "Use cases",  # sic: "Use cases", garbled in the article
    "Facebook CheXNet Tesla Pilote automatique Uber PYRO": "Facebook, CheXNet, Tesla Autopilot, Uber Pyro",
    "Google Sinovation Entreprises Pay Pal Mobile Chine": "Google, Sinovation Ventures, PayPal, China Mobile",
}

#: Quotations of the article in the lessons (and the glosses of its words), English -> French original.
QUOTES = {
    # short quotations in lessons 01, 03 and 06 (each the article's words, shortened)
    "TensorFlow is hard to understand": "TensorFlow est difficile à comprendre",
    "Keras makes it easier": "Les fonctions Keras rendent TensorFlow plus facile à utiliser",
    "Visdom is light and simple": "L'interface est légère et simple à utiliser",
    "Lacks many essential features for the overview of data": "de nombreuses fonctionnalités essentielles pour la vue d'ensemble des données",
    "Plugins make TensorBoard available for PyTorch": "Les plugins rendent également Tensorboard disponible pour PyTorch",
    "Visdom | TensorBoard": "Visdom | Tensorboard",
    "TorchServe (experimental) | TensorFlow Serving": "Chalumeau (expérimental) | Serveur TensorFlow",
    "TorchServe (experimental) / TensorFlow Serving": "Chalumeau (expérimental) | Serveur TensorFlow",
    # the title, and the machine translation's words for tool names (lesson 00 §3)
    "PyTorch vs TensorFlow : comparaison approfondie": "PyTorch vs TensorFlow :comparaison approfondie",
    "an in-depth comparison": "comparaison approfondie",
    "blowtorch": "Chalumeau",
    "impatient mode": "Mode impatient",
    # chapter 1, visualization
    "Plugins also make TensorBoard available for PyTorch.": "Les plugins rendent également Tensorboard disponible pour PyTorch.",
    "TensorBoard is heavy and complicated to use.": "Tensorboard est lourd et compliqué à utiliser.",
    "Direct support for PyTorch tensors makes it easy to use.": "La prise en charge directe des tenseurs PyTorch facilite son utilisation.",
    "Visdom lacks interactivity and many features essential for an overview of the data.": (
        "Visdom manque d'interactivité et de nombreuses fonctionnalités essentielles pour la vue d'ensemble des données."
    ),
    # chapter 2, graph generation
    "TensorFlow used static graphs from the start.": "TensorFlow a utilisé des graphiques statiques dès le départ.",
    "TensorFlow added a feature that mimics dynamic graphs, called eager execution.": (
        "TensorFlow a ajouté une fonctionnalité qui imite les graphiques dynamiques appelés exécution impatiente."
    ),
    "Static graph generation is available when eager execution is turned off.": (
        "La génération de graphes statiques est disponible lors de la désactivation de l'exécution hâtive."
    ),
    "PyTorch also provides static graphs.": "PyTorch fournit également des graphiques statiques.",
    # chapter 3, learning curve
    "TensorFlow is the harder library.": "TensorFlow est la bibliothèque la plus difficile.",
    "Keras functions make TensorFlow easier to use.": "Les fonctions Keras rendent TensorFlow plus facile à utiliser.",
    "PyTorch is the easier library to learn.": "PyTorch est la bibliothèque la plus facile à apprendre.",
    # chapter 4, deployment
    "TensorFlow Serving is designed for production and industrial environments.": (
        "Diffusion TensorFlow est conçu pour les environnements de production et industriels."
    ),
    "PyTorch has recently started to tackle the deployment problem.": "PyTorch a récemment commencé à s'attaquer au problème du déploiement.",
    "The PyTorch API is extensible for mobile deployment.": "L'API PyTorch est extensible pour le déploiement mobile.",
    # chapter 6, device management
    "TensorFlow automatically switches to using the GPU if a GPU is available.": (
        "TensorFlow passe automatiquement à l'utilisation du GPU si un GPU est disponible."
    ),
    "GPU acceleration is automated. This means there is no control over memory usage.": (
        "L'accélération GPU est automatisée. Cela signifie qu'il n'y a aucun contrôle sur l'utilisation de la mémoire."
    ),
    "PyTorch uses CUDA to specify the use of the GPU or the CPU.": "PyTorch utilise CUDA pour spécifier l'utilisation du GPU ou du CPU.",
    "The model will not work without the CUDA specifications for GPU and CPU use.": (
        "Le modèle ne fonctionnera pas sans les spécifications CUDA pour l'utilisation du GPU et du CPU."
    ),
    "GPU use is not automated, which means there is better control over resource usage.": (
        "L'utilisation du GPU n'est pas automatisée, ce qui signifie qu'il y a un meilleur contrôle sur l'utilisation des ressources."
    ),
    "PyTorch improves the training process through GPU control.": "PyTorch améliore le processus de formation grâce au contrôle GPU.",
    # conclusion
    "PyTorch is the preferred option of programmers and research scientists.": (
        "PyTorch est l'option préférée des programmeurs et des chercheurs scientifiques."
    ),
    "Organizations and startups generally use TensorFlow.": "Les organisations et les startups utilisent généralement TensorFlow.",
    "Today there are more similarities than differences between the two, and switching from one to the other is a seamless process.": (
        "Aujourd'hui, il y a plus de similitudes que de différences entre les deux et le passage de l'un à l'autre est un processus transparent."
    ),
}


def normal(text: str) -> str:
    """One space between words, straight apostrophes: how quotes and cells are compared."""
    return " ".join(text.replace("\u2019", "'").replace("\u00a0", " ").split())


def table_cells(line: str) -> list[str]:
    return [normal(cell) for cell in line.strip().strip("|").split("|")]


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every pipe table in ``text``: a list of rows (header first, separator dropped), each a list of cells."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if "|" in line and line.strip():
            current.append(line)
            continue
        if len(current) >= 2 and re.fullmatch(r"\|?\s*:?-{3,}.*", current[1].strip()):
            tables.append([table_cells(row) for i, row in enumerate(current) if i != 1])
        current = []
    return tables


def article_text() -> str:
    if not ARTICLE.exists():
        pytest.skip(f"the source article is not here ({ARTICLE}): it is kept beside the course's checkout, not in it")
    return ARTICLE.read_text(encoding="utf-8")


def article_table() -> list[list[str]]:
    """The article's overview table: the first table whose header names PyTorch and TensorFlow."""
    for table in markdown_tables(article_text()):
        if len(table[0]) >= 3 and table[0][1] == "PyTorch" and table[0][2].startswith("TensorFlow"):
            return table
    pytest.fail(f"no overview table (header '... | PyTorch | TensorFlow ...') found in {ARTICLE}")


def markdown(path: Path) -> list[str]:
    """The Markdown cells of a notebook, without blockquote markers (a quote may span quoted lines)."""
    cells = [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"]
    return [re.sub(r"(?m)^[ \t]*>[ \t]?", "", source) for source in cells]


def lesson_table() -> list[list[str]]:
    """Lesson 00's quotation of the table: the first table with three columns, PyTorch in the middle."""
    found = []
    for source in markdown(LESSON_00):
        for table in markdown_tables(source):
            found.append(" | ".join(table[0]))
            if len(table[0]) == 3 and table[0][1] == "PyTorch":
                return table
    pytest.fail(f"lesson 00 has no quoted table with the header '{' | '.join(TABLE[c] for c in ('Bibliothèque', 'PyTorch', 'TensorFlow 2.0'))}'; its tables' headers: {found}")


# --- the overview table ------------------------------------------------------------------------


def test_article_table_is_the_one_translated_here():
    table = article_table()
    header = table[0]
    assert header[2] == "TensorFlow 2.0", f"the article's table header should name 'TensorFlow 2.0', got {header!r}"
    french = [cell for row in table for cell in row]
    missing = [cell for cell in french if cell not in TABLE]
    assert not missing, f"cells of the article's table with no stored translation (add them to TABLE): {missing!r}"
    stale = [cell for cell in TABLE if cell not in french]
    assert not stale, f"stored translations of cells that are not in the article's table (any more): {stale!r}"
    assert all(len(row) == 3 for row in table), f"every row of the article's table should have 3 cells, got {[len(r) for r in table]}"
    assert len(table) == 11, f"the article's table should have a header and 10 rows, got {len(table)} rows in all"


def test_lesson_00_quotes_the_header():
    expected = [TABLE[cell] for cell in article_table()[0]]
    got = lesson_table()[0]
    assert got == expected, f"lesson 00's quoted table should have the header {expected!r}, got {got!r}"


def test_lesson_00_quotes_every_row_in_order():
    expected = [TABLE[row[0]] for row in article_table()[1:]]
    got = [row[0] for row in lesson_table()[1:]]
    assert got == expected, f"lesson 00's quoted table should have the article's rows in its order {expected!r}, got {got!r}"


@pytest.mark.parametrize("row", range(1, 11), ids=lambda i: f"row{i}")
def test_lesson_00_quotes_each_cell_faithfully(row):
    french = article_table()[row]
    quoted = lesson_table()[row]
    assert len(quoted) == len(french), f"row {french[0]!r}: expected {len(french)} cells in lesson 00's table, got {quoted!r}"
    for column, (cell_fr, cell_en) in enumerate(zip(french, quoted)):
        expected = TABLE[cell_fr]
        assert normal(expected) in cell_en, (
            f"row {TABLE[french[0]]!r}, column {column}: the article says {cell_fr!r}, translated {expected!r}; lesson 00 says {cell_en!r}"
        )


def test_lesson_00_discusses_every_row_in_order():
    """Each row of the table gets its own subsection (### N.M <row>), in the article's order."""
    labels = [TABLE[row[0]] for row in article_table()[1:]]
    headings = [
        re.sub(r"^###\s+\d+\.\d+\s+", "", line).strip()
        for source in markdown(LESSON_00)
        for line in source.splitlines()
        if re.match(r"###\s+\d+\.\d+\s", line)
    ]
    got = [heading for heading in headings if heading in labels]
    assert got == labels, f"lesson 00 should have a subsection per row of the table, in the article's order {labels!r}; got {got!r} (all numbered subsections: {headings!r})"


def test_lesson_00_corrects_based_on_theano():
    text = normal(" ".join(markdown(LESSON_00)))
    for phrase in ("never built on Theano", "DistBelief"):
        assert phrase in text, f"lesson 00 should say that TensorFlow was not built on Theano (expected the phrase {phrase!r}); not found"


# --- quotations elsewhere ----------------------------------------------------------------------


def test_quotes_are_in_the_article():
    article = normal(article_text())
    missing = {english: french for english, french in QUOTES.items() if normal(french) not in article}
    assert not missing, f"French originals not found in the article (English quote -> French): {missing!r}"


def test_quotes_are_used_in_the_lessons():
    text = normal(" ".join(source for path in lessons() for source in markdown(path)))
    unused = [english for english in QUOTES if normal(english) not in text]
    assert not unused, f"quotes stored in tests/test_article.py but in no lesson (remove them, or quote them): {unused!r}"


def quoted_in_paragraphs_about_the_article(source: str) -> list[str]:
    """Quoted text ("..." or “...”, outside code) in each paragraph that mentions the article."""
    found = []
    for paragraph in re.split(r"\n\s*\n", re.sub(r"`[^`\n]*`", "", source)):
        if re.search(r"\barticle", paragraph, re.IGNORECASE):
            found += re.findall(r"“([^”]+)”", paragraph) + re.findall(r'"([^"\n]+)"', paragraph)
    return found


@pytest.mark.parametrize("path", lessons(), ids=rel)
def test_every_quotation_of_the_article_is_traceable(path):
    known = [normal(text).lower() for text in list(QUOTES) + list(TABLE.values())]
    untraceable = [
        quote
        for source in markdown(path)
        for quote in quoted_in_paragraphs_about_the_article(source)
        if not any(normal(quote).lower() in text for text in known)
    ]
    assert not untraceable, (
        f"{rel(path)} quotes text, in a paragraph about the article, that is not a stored translation of it: {untraceable!r}. "
        "Quote the article faithfully and add the quote with its French original to QUOTES in tests/test_article.py"
    )
