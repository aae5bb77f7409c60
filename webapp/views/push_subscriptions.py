"""(being built)"""
from flask import Blueprint

bp = Blueprint("push_subscriptions", __name__)
