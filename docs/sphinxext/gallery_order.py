"""Order of the examples in the gallery: from a first pipeline to tuning and localisation."""

EXAMPLE_ORDER = [
    "plot_quickstart.py",
    "plot_spectrograms.py",
    "plot_how_it_works.py",
    "plot_score_distributions.py",
    "plot_roc_confusion.py",
    "plot_grid_search.py",
    "plot_frame_errors.py",
    "plot_dcase_recordings.py",
    "plot_fleet.py",
]


class ExampleOrder:
    """sphinx-gallery ``within_subsection_order`` key: the list above, then by file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in EXAMPLE_ORDER:
            return f"{EXAMPLE_ORDER.index(filename):03d}"
        return f"999{filename}"

    def __repr__(self):
        return "<ExampleOrder>"
