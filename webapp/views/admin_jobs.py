"""(being built)"""
from flask import Blueprint

bp = Blueprint("admin_jobs", __name__)
