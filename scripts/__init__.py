"""Developer scripts: screenshots, and the Xvfb helper the GUI test and benchmark share."""
