"""Stage 6 of the site, build: assemble every page and download of a results folder, check an
anonymous build for leaks (`leaks`), and swap the new site in (`assemble`).
"""
