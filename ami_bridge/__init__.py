"""ami_bridge"""
