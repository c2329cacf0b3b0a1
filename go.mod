module github.com/thrustmq/thrust

go 1.26
