"""The only room that speaks S3 (boto3): a store of objects, and the bucket's own rules.

store: head, put (written once), multipart upload, list, thaw; objects: what S3 says of
one object; parts: how a bag is cut; hardening: the bucket's safety settings; hosts: who
owns a host name; system_folder: what a bare machine needs, written and read back.
"""
