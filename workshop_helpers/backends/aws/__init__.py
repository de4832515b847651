"""The AWS side of the workshop: set-up, engine image, SageMaker jobs, status, cost, clean-up.

Everything uses plain boto3 and the default credential chain; see docs/aws.md.
"""
